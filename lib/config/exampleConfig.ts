/**
 * The commented example config that `smallwebrtc init` writes: every key with its meaning and default, generated
 * from the schema so it can never fall out of date. Comments are allowed in config files (see jsonc.ts).
 */
import { configJsonSchema } from "./schema.ts";

interface Property {
  description?: string;
  default?: unknown;
  type?: string;
  properties?: Record<string, Property>;
}

/** Keys with no default that are worth showing, as commented-out examples. */
const EXAMPLES: Record<string, string> = {
  turn: '"turn": { "urls": ["turn:turn.example.com:3478"], "secret": "change-me-to-a-long-random-string" },',
  tls: '"tls": { "certFile": "/etc/smallwebrtc/cert.pem", "keyFile": "/etc/smallwebrtc/key.pem" },',
  token: '"token": "change-me-to-a-long-random-string",',
  secret: '"secret": "change-me-to-another-long-random-string",',
  assetsDir: '"assetsDir": "/opt/smallwebrtc/codecs",',
  folder: '"folder": "./recordings",',
  portRange: '"portRange": [40000, 40099],',
  udpPort: '"udpPort": 7861,',
  tcpPort: '"tcpPort": 7862,',
  workers: '"workers": 4,',
  bot: '"bot": "echo",',
  url: '"url": "ws://127.0.0.1:8765/ws",',
  redisUrl: '"redisUrl": "redis://redis:6379",',
  advertiseUrl: '"advertiseUrl": "http://10.0.0.5:7860",',
};

export function exampleConfig(): string {
  const schema = configJsonSchema() as Property;
  return `// smallwebrtc configuration. Every key is optional; the values below are the defaults.
// Env variables (SMALLWEBRTC_<KEY>, e.g. SMALLWEBRTC_PORT) override this file, and flags override both.
{
${renderProperties(schema.properties ?? {}, "  ")}
}
`;
}

interface Rendered {
  comment: string;
  text: string;
  /** A real value (takes part in the commas) rather than a commented-out example. */
  isValue: boolean;
}

function renderProperties(properties: Record<string, Property>, indent: string): string {
  const rendered = Object.entries(properties).flatMap(([key, property]): Rendered[] => {
    const comment = property.description ? `${indent}// ${property.description}\n` : "";
    if (property.type === "object" && property.properties && property.default !== undefined) {
      const body = renderProperties(property.properties, `${indent}  `);
      return [{ comment, text: `${indent}"${key}": {\n${body}\n${indent}}`, isValue: true }];
    }
    if (property.default !== undefined) {
      return [{ comment, text: `${indent}"${key}": ${JSON.stringify(property.default)}`, isValue: true }];
    }
    return EXAMPLES[key] ? [{ comment, text: `${indent}// ${EXAMPLES[key]}`, isValue: false }] : [];
  });
  const lastValue = rendered.findLastIndex((entry) => entry.isValue);
  return rendered
    .map((entry, index) => `${entry.comment}${entry.text}${entry.isValue && index < lastValue ? "," : ""}`)
    .join("\n");
}

import { test } from "bun:test";
import { launchBrowser, captureConsoleErrors } from "./support/browser.ts";
import { startServerProcess } from "./support/serverProcess.ts";

test("scratch", async () => {
  const server = await startServerProcess({ args: (process.env.BOT ? ["--bot", process.env.BOT] : []) });
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    const errors = captureConsoleErrors(page);
    page.on("console", (m) => console.log("console:", m.type(), m.text()));
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${server.url}/client/`);
    await page.screenshot({ path: "/tmp/scratch/before.png" });
    if (process.env.CAM) await page.click("#cam-toggle");
    await page.click("#connect");
    await page.waitForSelector('#state[data-state="ready"]', { timeout: 15000 });
    await Bun.sleep(5000);
    await page.click("#message-form button");
    await Bun.sleep(1000);
    console.log(await page.evaluate(() => ({
      inLevel: document.getElementById("meter-in")!.getAttribute("aria-valuenow"),
      outLevel: document.getElementById("meter-out")!.getAttribute("aria-valuenow"),
      stats: [...document.querySelectorAll(".stat")].map((e) => e.textContent),
      codecs: document.getElementById("codecs")!.textContent,
      log: [...document.querySelectorAll("#log li")].map((e) => e.textContent),
    })));
    await page.screenshot({ path: "/tmp/scratch/call.png" });
    await page.setViewportSize({ width: 390, height: 844 });
    await Bun.sleep(1200);
    await page.screenshot({ path: "/tmp/scratch/phone.png", fullPage: true });
    await page.click("#connect");
    await Bun.sleep(1000);
    console.log("errors", errors, await (await fetch(`${server.url}/status`)).json());
  } finally {
    await browser.close();
    await server.stop();
  }
}, 90_000);

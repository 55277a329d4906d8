// The server's own view from GET /status: its version and how many sessions it holds (all clients, not just this
// page), refreshed every few seconds and whenever the caller asks.

interface Status {
  version: string;
  sessions: number;
}

const REFRESH_MS = 5000;

/** Starts watching and returns a function that refreshes now. */
export function watchServerStatus(element: HTMLElement, url: URL): () => void {
  const refresh = async () => {
    try {
      const response = await fetch(url, { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const { version, sessions } = (await response.json()) as Status;
      element.textContent = `server v${version} · ${sessions} session${sessions === 1 ? "" : "s"}`;
      element.classList.remove("down");
    } catch {
      element.textContent = "server unreachable";
      element.classList.add("down");
    }
  };
  void refresh();
  setInterval(refresh, REFRESH_MS);
  return () => void refresh();
}

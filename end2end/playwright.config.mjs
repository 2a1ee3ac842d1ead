// The browser journeys: @playwright/test driving Debian's Chromium (no
// browser download). One worker, one file at a time: each file starts its
// own `tenantry` servers, and the figures they print stay readable. A failed
// test keeps its trace (open it with `npx playwright show-trace`) and a
// screenshot under artifacts/results/; the HTML report is artifacts/report/.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "tests",
  testMatch: /.*\.test\.mjs$/,
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  // A journey signs in, starts runs and waits for them to end.
  timeout: 300_000,
  outputDir: "artifacts/results",
  reporter: [["list"], ["html", { outputFolder: "artifacts/report", open: "never" }]],
  use: {
    browserName: "chromium",
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
});

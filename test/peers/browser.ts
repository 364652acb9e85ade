// Headless Chromium (Debian's chromium package, installed by scripts/setup-tools.sh) driven by
// playwright-core, for the HTML report: console errors, requests that left the file, and the marks
// each Vega chart drew.
import * as fs from "fs";
import * as path from "path";
import { Browser, chromium, Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

export async function openBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: run scripts/setup-tools.sh chromium (npm test does; Debian's chromium package)`,
    );
  // Flags for a machine without network: no background connections, no component updates.
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export interface LoadedReport {
  readonly page: Page;
  /** Console errors and uncaught page errors. */
  readonly errors: string[];
  /** Every request that was not the file itself (a self-contained page makes none). */
  readonly requests: string[];
  /** The marks of one kind in the chart `#chart-<id>` (Vega's SVG: `g.mark-<kind>.role-mark > path`). */
  marks(chart: string, mark: string, element?: string): Promise<number>;
}

export async function loadReport(browser: Browser, file: string, screenshot?: string): Promise<LoadedReport> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("request", (r) => !r.url().startsWith("file:") && requests.push(r.url()));
  await page.goto(`file://${path.resolve(file)}`);
  if (screenshot) {
    fs.mkdirSync(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
  }
  return {
    page,
    errors,
    requests,
    marks: (chart, mark, element = "path") =>
      page.locator(`#chart-${chart} g.mark-${mark}.role-mark > ${element}`).count(),
  };
}

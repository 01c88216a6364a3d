// /docs in headless Chromium: Swagger UI loads from the service alone, with
// no Content-Security-Policy violation, and Try it out works: POST create
// (201) and, with a token given, Authorize and then GET list (200).
//   node docs-browser.mjs BASE_URL [TOKEN USER_ID]
import { chromium } from "playwright-core";

const [base, token, userArg] = process.argv.slice(2);
const user = userArg ?? "swagger-ui-user";
const origin = new URL(base).origin;
const fail = (what) => {
  console.error(`/docs in Chromium: ${what}`);
  process.exit(1);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  const foreign = [];
  const violations = [];
  page.on("request", (r) => {
    const url = r.url();
    if (!url.startsWith("data:") && new URL(url).origin !== origin) foreign.push(url);
  });
  page.on("console", (m) => {
    if (/Content.Security.Policy|Refused to|CSP violation/i.test(m.text())) violations.push(m.text());
  });
  await page.addInitScript(() =>
    document.addEventListener("securitypolicyviolation", (e) =>
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`)));
  await page.goto(`${base}/docs`, { waitUntil: "networkidle" });
  await page.locator("#operations-tasks-createTask").waitFor();

  if (token) {
    await page.locator("button.authorize").first().click();
    await page.locator(".modal-ux input").first().fill(token);
    await page.locator(".modal-ux button.authorize").click();
    await page.locator(".modal-ux button.btn-done").click();
  }

  // tryIt runs one operation through Try it out and returns the status.
  const tryIt = async (id, body) => {
    const op = page.locator(`#operations-tasks-${id}`);
    await op.locator(".opblock-summary").first().click();
    await op.locator("button.try-out__btn").click();
    await op.locator('input[placeholder="user_id"]').fill(user);
    if (body) await op.locator("textarea.body-param__text").fill(body);
    await op.locator("button.execute").click();
    const status = op.locator(".live-responses-table tr.response .response-col_status").first();
    await status.waitFor();
    return (await status.textContent()).trim();
  };
  const created = await tryIt("createTask", '{"title": "Made in Swagger UI"}');
  if (created !== "201") fail(`Try it out on POST create: ${created}, want 201`);
  if (token) {
    const listed = await tryIt("listTasks");
    if (listed !== "200") fail(`Try it out on GET list after Authorize: ${listed}, want 200`);
  }
  if (foreign.length > 0) fail(`requests left the service's origin: ${foreign.join(", ")}`);
  if (violations.length > 0) fail(`Content-Security-Policy violations: ${violations.join(" | ")}`);
  console.log(`/docs in Chromium: Swagger UI from ${origin} alone, no CSP violation, Try it out ${token ? "with Authorize: POST 201, GET 200" : "POST 201"}`);
} finally {
  await browser.close();
}

"""The console in a real browser: Debian's Chromium (headless, never downloaded) driven by Playwright against a
real `codemoat serve` on the CPU engine. Sign in and get a streamed answer with a source; an administrator
adds a repository and watches it index; a user without access never sees a repository's code; a user who is
not an administrator cannot reach the administration pages or their API; a `<script>` in a repository file
stays text. Set CODEMOAT_SCREENSHOT_DIR to keep screenshots of the main pages (docs/ holds the README's)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .browser import CHROMIUM, CHROMIUM_ARGS, Served, codemoat, environment, serve, sign_in

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does)",
    ),
]

INVOICE = '''"""Invoices of the billing service."""


def invoice_total(lines, tax_rate):
    """The total of an invoice: the sum of its line amounts plus tax at `tax_rate`."""
    subtotal = sum(line.amount for line in lines)
    return round(subtotal * (1 + tax_rate), 2)
'''
RELEASE_NOTES = """<h1>Release notes of the billing service</h1>
<script>window.__pwned = "script"; document.title = "PWNED";</script>
<img src="x" onerror="window.__pwned = 'img'">
"""
SECRET = '''def rotate_launch_codes(vault):
    """Rotate the launch codes kept in the vault: OPS-SECRET-7731."""
    return vault.rotate("launch-codes")
'''
PASSWORDS = {"root": "root-password-1", "dev": "dev-password-1", "viewer": "viewer-password-1"}


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[tuple[Served, Path]]:
    root = tmp_path_factory.mktemp("browser")
    env = environment(root / "home", model_cache)
    billing, ops = root / "src" / "billing", root / "src" / "ops"
    billing.mkdir(parents=True)
    ops.mkdir(parents=True)
    (billing / "invoice.py").write_text(INVOICE)
    (billing / "release-notes.html").write_text(RELEASE_NOTES)
    (ops / "launch.py").write_text(SECRET)
    codemoat(env, "index", str(billing), "--name", "billing")
    codemoat(env, "index", str(ops), "--name", "ops")
    codemoat(env, "user", "create", "root", "--admin", "--password-stdin", stdin=PASSWORDS["root"] + "\n")
    for user in ("dev", "viewer"):
        codemoat(env, "user", "create", user, "--password-stdin", stdin=PASSWORDS[user] + "\n")
    codemoat(env, "group", "create", "billing-team", "--members", "dev,viewer", "--repos", "billing")
    codemoat(env, "group", "create", "ops-team", "--members", "dev", "--repos", "ops")
    with serve(env) as served:
        yield served, root


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    target = os.environ.get("CODEMOAT_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / f"console-{name}.png"))


def ask(page, question: str) -> None:  # type: ignore[no-untyped-def]
    page.fill("#question", question)
    page.click("#send")


def test_sign_in_ask_and_get_a_streamed_answer_with_a_source(appliance, page) -> None:  # type: ignore[no-untyped-def]
    served, _ = appliance
    page.goto(f"{served.url}/console/chat")
    assert page.url.startswith(f"{served.url}/console/login")  # not signed in: sent to the sign-in page
    screenshot(page, "sign-in")
    sign_in(page, served.url, "dev", PASSWORDS["dev"])
    assert page.get_by_test_id("current-user").inner_text() == "dev"
    ask(page, "How is the invoice total computed with tax?")
    # Streaming: text appears in the answer while it is still being generated.
    page.wait_for_function(
        "() => { const b = document.querySelector('.message.streaming .body');"
        " return b !== null && b.textContent.trim().length > 0; }",
        timeout=300_000,
    )
    answer = page.get_by_test_id("answer")
    answer.wait_for(timeout=300_000)
    assert answer.locator(".body").inner_text().strip()
    sources = answer.locator(".source-link")
    assert "billing/invoice.py:" in " ".join(sources.all_inner_texts())
    answer.locator(".source-link", has_text="billing/invoice.py").first.click()
    page.wait_for_function(
        "() => document.getElementById('source-code').textContent.includes('def invoice_total')"
    )
    cited = answer.locator(".source-link", has_text="billing/invoice.py").first.inner_text()
    first, last = (int(n) for n in cited.rsplit(":", 1)[1].split("-"))
    numbers = page.get_by_test_id("source-lines").inner_text().split()
    assert numbers == [str(n) for n in range(first, first + len(numbers))] and int(numbers[-1]) <= last
    page.get_by_test_id("whole-file").click()  # the whole file, the cited lines marked
    page.wait_for_function("() => document.getElementById('source-lines').textContent.startsWith('1')")
    whole = page.get_by_test_id("source-lines").inner_text().split()
    assert whole == [str(n) for n in range(1, len(whole) + 1)] and len(whole) >= int(numbers[-1])
    marked = page.locator("#source-lines .cited").all_inner_texts()
    assert [int(n) for n in marked] == list(range(first, first + len(marked))) and marked
    screenshot(page, "chat")
    # The conversation is kept: reopening it shows the question, the answer and its sources.
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert "invoice total" in page.get_by_test_id("messages").inner_text()
    assert page.locator(".message.assistant .source-link").count() >= 1
    assert page.errors == []


def test_chat_says_what_to_ask_can_be_stopped_and_fits_a_narrow_window(appliance, page) -> None:  # type: ignore[no-untyped-def]
    served, _ = appliance
    sign_in(page, served.url, "dev", PASSWORDS["dev"])
    page.goto(f"{served.url}/console/chat")
    page.wait_for_selector("body[data-ready='1']")
    assert page.get_by_test_id("empty-state").is_visible()
    assert "Ask about your code" in page.get_by_test_id("empty-state").inner_text()
    icon = page.evaluate("async () => (await fetch(document.querySelector('link[rel=icon]').href)).status")
    assert icon == 200
    stop = page.get_by_test_id("stop")
    assert not stop.is_visible()
    ask(page, "How is the invoice total computed with tax?")
    assert stop.is_visible() and not page.get_by_test_id("empty-state").is_visible()
    stop.click()  # at once: the question is still being prepared or answered
    page.wait_for_function("() => !document.getElementById('send').disabled", timeout=120_000)
    assert not stop.is_visible() and not page.locator("#ask-error").is_visible()
    assert page.errors == []
    page.set_viewport_size({"width": 700, "height": 900})
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 700
    assert page.locator("#question").bounding_box()["width"] > 300


def test_an_administrator_adds_a_repository_and_watches_it_index(appliance, page) -> None:  # type: ignore[no-untyped-def]
    served, root = appliance
    folder = root / "src" / "inventory"
    folder.mkdir()
    for i in range(400):
        (folder / f"stock_{i}.py").write_text(
            f'def stock_level_{i}(warehouse):\n    """Units of item {i}."""\n'
            f"    return warehouse.count({i})\n"
        )
    sign_in(page, served.url, "root", PASSWORDS["root"])
    page.goto(f"{served.url}/console/admin/repositories")
    page.select_option("#add-repository select[name=kind]", "path")
    page.fill("#add-repository input[name=location]", str(folder))
    page.fill("#add-repository input[name=sync_interval_s]", "0")
    page.click("#add-repository button[type=submit]")
    row = page.locator("tr[data-repo='inventory']")
    row.wait_for()
    # Record every state and progress text the page shows while the job runs.
    page.evaluate("""() => {
        window.__seen = [];
        const row = document.querySelector("tr[data-repo='inventory']");
        const note = () => window.__seen.push(row.querySelector('[data-field=state]').textContent + '|' +
                                              row.querySelector('[data-field=progress-text]').textContent);
        note();
        new MutationObserver(note).observe(row, {subtree: true, childList: true, characterData: true});
    }""")
    page.wait_for_function(
        "() => document.querySelector(\"tr[data-repo='inventory'] [data-field=state]\")"
        ".textContent === 'indexed'",
        timeout=300_000,
    )
    seen = page.evaluate("window.__seen")
    assert any(s.startswith(("queued", "running")) for s in seen), seen
    assert any("/ 400 files" in s for s in seen), seen  # live progress
    assert row.locator("[data-field=files]").inner_text() == "400"
    assert int(row.locator("[data-field=chunks]").inner_text()) >= 400
    screenshot(page, "repositories")
    # Bad input gets a clear message next to the form.
    page.fill("#add-repository input[name=location]", "relative/path")
    page.click("#add-repository button[type=submit]")
    error = page.locator("#add-repository .form-error")
    error.wait_for()
    page.wait_for_function(
        "() => document.querySelector('#add-repository .form-error').textContent.length > 0"
    )
    assert error.inner_text() == "location: give an absolute path (it is read on the appliance)"
    assert page.locator("#add-repository input[name=location]").get_attribute("aria-invalid") == "true"


def test_a_user_without_access_never_sees_the_code(appliance, page) -> None:  # type: ignore[no-untyped-def]
    served, _ = appliance
    sign_in(page, served.url, "viewer", PASSWORDS["viewer"])
    options = page.locator("#repo-select option").all_inner_texts()
    assert "billing" in options and "ops" not in options
    ask(page, "How are the launch codes rotated in the vault?")
    answer = page.get_by_test_id("answer")
    answer.wait_for(timeout=300_000)
    cited = " ".join(answer.locator(".source-link").all_inner_texts())
    assert "ops/" not in cited
    assert "OPS-SECRET-7731" not in page.content() and "rotate_launch_codes" not in page.content()
    direct = page.evaluate("""async () => {
        const r = await fetch('/api/sources?repo=ops&path=launch.py&start_line=1&end_line=3');
        return [r.status, await r.text()];
    }""")
    assert direct[0] == 403 and "OPS-SECRET" not in direct[1]
    searched = page.evaluate("async () => (await fetch('/api/search?q=launch+codes+vault')).json()")
    assert all(hit["repo"] == "billing" for hit in searched["hits"])


def test_a_non_administrator_cannot_reach_administration(appliance, page) -> None:  # type: ignore[no-untyped-def]
    served, _ = appliance
    sign_in(page, served.url, "viewer", PASSWORDS["viewer"])
    assert page.locator("header nav a.admin").count() == 0
    for path in (
        "/console/admin/repositories",
        "/console/admin/users",
        "/console/admin/license",
        "/console/admin/usage",
        "/console/admin/audit",
    ):
        response = page.goto(f"{served.url}{path}")
        assert response is not None and response.status == 403, path
        assert page.get_by_test_id("error-message").inner_text() == "this page is for administrators"
    page.goto(f"{served.url}/console/chat")
    page.wait_for_selector("body[data-ready='1']")
    results = page.evaluate("""async () => {
        const csrf = document.querySelector('meta[name=csrf-token]').content;
        const send = (method, url, body) => fetch(url, {method, headers: {'X-CSRF-Token': csrf,
            'Content-Type': 'application/json'}, body: body && JSON.stringify(body)}).then(r => r.status);
        return [
            await send('GET', '/api/admin/users'),
            await send('POST', '/api/admin/users', {name: 'mallory', role: 'admin'}),
            await send('POST', '/api/admin/groups/billing-team/repos', {repo: 'ops'}),
            await send('POST', '/api/admin/repositories', {kind: 'path', location: '/etc'}),
            await send('GET', '/api/admin/license'),
            await send('GET', '/api/admin/audit'),
        ];
    }""")
    assert results == [403] * 6


def test_a_script_in_a_repository_file_stays_text(appliance, page) -> None:  # type: ignore[no-untyped-def]
    served, _ = appliance
    sign_in(page, served.url, "dev", PASSWORDS["dev"])
    title = page.title()
    ask(page, "What do the release notes of the billing service say? Show the html.")
    answer = page.get_by_test_id("answer")
    answer.wait_for(timeout=300_000)
    link = answer.locator(".source-link", has_text="billing/release-notes.html")
    assert link.count() == 1, answer.inner_text()
    link.click()
    page.wait_for_function("() => document.getElementById('source-code').textContent.includes('<script>')")
    code = page.get_by_test_id("source-code")
    assert "<script>window.__pwned" in code.inner_text() and "onerror" in code.inner_text()
    assert code.locator("script, img").count() == 0
    assert page.locator("#messages script, #messages img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.title() == title
    # The preview line under the source is text too.
    assert any("<script>" in text for text in answer.locator(".source-preview").all_inner_texts())
    assert page.errors == []


def test_screenshots_of_the_administration_pages(appliance, page) -> None:  # type: ignore[no-untyped-def]
    served, _ = appliance
    sign_in(page, served.url, "root", PASSWORDS["root"])
    for name, path in (
        ("users", "/console/admin/users"),
        ("license", "/console/admin/license"),
        ("usage", "/console/admin/usage"),
        ("audit", "/console/admin/audit"),
    ):
        response = page.goto(f"{served.url}{path}")
        assert response is not None and response.status == 200, path
        screenshot(page, name)
    assert (
        page.locator("table[data-testid=audit-table] tbody tr").count() >= 5
    )  # the CLI's and the UI's changes
    page.click("#verify-audit")
    page.wait_for_function("() => document.getElementById('verify-result').textContent.startsWith('intact')")


def test_browser_pages_carry_a_strict_content_security_policy(appliance, page) -> None:  # type: ignore[no-untyped-def]
    served, _ = appliance
    response = page.goto(f"{served.url}/console/login")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "default-src 'none'" in policy
    # An injected inline script is refused by the browser itself.
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.__inline = 1';
                             document.body.append(s); }""")
    assert page.evaluate("window.__inline") is None

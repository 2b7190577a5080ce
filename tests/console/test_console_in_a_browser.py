"""The console in a real Chromium, against the real stack (uvicorn, a worker, the dev server,
an SMTP sink), through the console only: a recruiter's walk through the help-centre articles.
Elements are found by role and accessible name, as a person finds them."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from temporalio.testing import WorkflowEnvironment

from tests.conftest import API_KEY, SmtpSink, served_stack

pytestmark = pytest.mark.devserver
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(os.environ.get("SEQFLOW_SCREENSHOTS", "console-screenshots")).resolve()


@pytest.fixture(scope="module")
def stack(
    dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, SmtpSink]]:
    with served_stack(dev_env, tmp_path_factory.mktemp("console")) as served:
        yield served


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (.ci/run installs it with apt-get)")
        pytest.skip("chromium is not installed: apt-get install chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        await launched.close()


async def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


async def sign_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("API key").fill(API_KEY)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Sequences")).to_be_visible()


async def test_a_recruiter_walks_through_the_articles(
    stack: tuple[str, SmtpSink], browser: Browser
) -> None:
    base, smtp = stack
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    print(f"\nconsole screenshots: {SHOTS}")

    # Signing in with a wrong key says so; with ours, the sequences page opens.
    await page.goto(f"{base}/sequences")
    await page.get_by_label("API key").fill("not-a-key")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("this key is not known")
    await shot(page, "sign-in")
    await sign_in(page, base)

    # Create a sequence: an email now, another in two days.
    await page.get_by_role("link", name="New sequence").click()
    await page.get_by_label("Name").fill("Backend engineers")
    await page.locator("#steps-0-type").select_option("email")
    await page.locator("#steps-0-delay").fill("PT0S")
    await page.locator("#steps-0-subject").fill("Hi {{ first_name }}")
    await page.locator("#steps-0-body").fill("Hello {{ first_name }}, open to a chat?")
    await page.locator("#steps-1-type").select_option("email")
    await page.locator("#steps-1-subject").fill("Following up")
    await page.locator("#steps-1-body").fill("Any thoughts?")
    await shot(page, "new-sequence")
    await page.get_by_role("button", name="Create sequence").click()
    await expect(page.get_by_role("status")).to_contain_text("Backend engineers created.")

    # Enroll three people (CSV with names).
    await page.get_by_label(re.compile("Email addresses")).fill(
        "email,first_name,last_name\nada@example.com,Ada,Lovelace\n"
        "grace@example.com,Grace,Hopper\nalan@example.com,Alan,Turing"
    )
    await page.get_by_role("button", name="Enroll").click()
    await expect(page.get_by_role("status")).to_contain_text("Enrolled 3.")
    sequence_url = page.url

    # The first step goes out to all three; the console shows it without a reload.
    rows = page.get_by_role("row")
    for name in ("Ada Lovelace", "Grace Hopper", "Alan Turing"):
        await expect(rows.filter(has_text=name)).to_contain_text("2/2", timeout=20_000)
    assert sorted(m["To"] for m in smtp.messages) == [
        "ada@example.com",
        "alan@example.com",
        "grace@example.com",
    ]
    assert {m["Subject"] for m in smtp.messages} == {"Hi Ada", "Hi Grace", "Hi Alan"}
    await shot(page, "recipients")

    # Pause Ada from her row: a dialog says what will happen; Escape closes it.
    ada = rows.filter(has_text="Ada Lovelace")
    await ada.get_by_label("Actions for Ada Lovelace").click()
    await ada.get_by_role("menuitem", name="Pause Recipient").click()
    dialog = page.get_by_role("dialog", name="Pause Recipient")
    await expect(dialog).to_be_visible()
    await expect(page.get_by_label("Reason (optional)")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await ada.get_by_label("Actions for Ada Lovelace").click()
    await ada.get_by_role("menuitem", name="Pause Recipient").click()
    words = "Pause sequence for Ada Lovelace? No further steps will be executed until resumed."
    await expect(dialog.get_by_text(words)).to_be_visible()
    await page.get_by_label("Reason (optional)").fill("holiday")
    await shot(page, "pause-recipient")
    await page.get_by_role("button", name="Pause", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("now Paused")
    await expect(page.get_by_role("heading", name=re.compile("Ada Lovelace"))).to_contain_text(
        "Paused"
    )
    await shot(page, "recipient")

    # Pause the sequence from the table; the bulk bar counts what each action applies to.
    await page.get_by_role("link", name="Sequences").click()
    seq_row = page.get_by_role("row").filter(has_text="Backend engineers")
    await seq_row.get_by_label("Select Backend engineers").check()
    await expect(page.get_by_role("button", name="Pause (1)")).to_be_visible()
    await expect(page.get_by_role("button", name="Resume (0)")).to_be_visible()
    await seq_row.get_by_label("Options for Backend engineers").click()
    await seq_row.get_by_role("menuitem", name="Pause Sequence").click()
    await expect(page.get_by_role("status")).to_contain_text("Backend engineers paused.")
    await expect(page.get_by_role("row").filter(has_text="Backend engineers")).to_contain_text(
        "Paused"
    )
    await shot(page, "sequences")

    # A held recipient's disabled actions say why.
    await page.goto(sequence_url)
    grace = page.get_by_role("row").filter(has_text="Grace Hopper")
    await expect(grace).to_contain_text("Paused", timeout=10_000)
    await grace.get_by_label("Actions for Grace Hopper").click()
    await expect(grace.get_by_text("Resume Recipient — the sequence is paused")).to_be_visible()
    await grace.get_by_label("Actions for Grace Hopper").click()

    # Resume the sequence: Grace and Alan run again, Ada stays paused by the person.
    await page.get_by_text("Actions", exact=True).first.click()
    await page.get_by_role("menuitem", name="Resume Sequence").click()
    await expect(page.get_by_role("status")).to_contain_text("resumed")
    await expect(page.get_by_role("row").filter(has_text="Grace Hopper")).to_contain_text(
        "In Progress", timeout=10_000
    )
    await expect(page.get_by_role("row").filter(has_text="Ada Lovelace")).to_contain_text("Paused")

    # Bulk stop with a double confirmation that names the count.
    for name in ("Grace Hopper", "Alan Turing"):
        await page.get_by_label(f"Select {name}").check()
    await page.get_by_role("button", name="Stop Selected").click()
    await expect(page.get_by_role("heading", name="Stop 2 recipients")).to_be_visible()
    await expect(page.get_by_text("This cannot be undone.")).to_be_visible()
    await page.get_by_role("button", name="Stop 2").click()
    await expect(page.get_by_role("status")).to_contain_text("2 applied")
    await expect(page.get_by_role("row").filter(has_text="Alan Turing")).to_contain_text("Stopped")

    # A stopped recipient's content can still be viewed: what was sent, resolved.
    await page.get_by_role("link", name="Alan Turing").click()
    await expect(page.get_by_role("heading", name="Content")).to_be_visible()
    await expect(page.get_by_role("cell", name=re.compile("Hi Alan"))).to_be_visible()
    await expect(page.get_by_text("stopped by ada.recruiter")).to_be_visible()

    # Senders: add one, disconnect it. Suppressions: add an address, remove it.
    await page.get_by_role("link", name="Senders").click()
    await page.get_by_label("Name").fill("Grace Box")
    await page.get_by_label("Mailbox address").fill("grace@acme.example.com")
    await page.get_by_role("button", name="Add sender").click()
    await expect(page.get_by_role("status")).to_contain_text("Grace Box added.")
    await page.get_by_role("button", name="Disconnect Grace Box").click()
    await expect(page.get_by_role("status")).to_contain_text("Grace Box is disconnected.")
    await expect(page.get_by_role("button", name="Reconnect Grace Box")).to_be_visible()
    await page.get_by_text("Plan a vacation").click()
    await page.get_by_label("Reason").fill("conference")
    await page.get_by_role("button", name="Pause Grace Box").click()
    await expect(page.get_by_role("status")).to_contain_text("Grace Box is on vacation")
    await expect(page.get_by_text("Away until resumed · conference")).to_be_visible()
    await shot(page, "senders")
    await page.get_by_role("button", name="Grace Box is back").click()
    await expect(page.get_by_role("status")).to_contain_text("Grace Box is back")
    await page.get_by_role("link", name="Suppressions").click()
    await page.get_by_label("Address").fill("nobody@example.com")
    await page.get_by_role("button", name="Suppress").click()
    await expect(page.get_by_role("status")).to_contain_text("nobody@example.com suppressed")
    await shot(page, "suppressions")
    await page.get_by_role("button", name="Remove nobody@example.com").click()
    await expect(page.get_by_role("status")).to_contain_text("nobody@example.com removed.")

    # Another workspace's ids answer a 404 page, and signing out works.
    await page.goto(f"{base}/sequences/seq_not_yours")
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert len(smtp.messages) == 3  # nothing else was sent
    await page.close()


async def test_bulk_by_filter_edit_content_and_a_phone(
    stack: tuple[str, SmtpSink], browser: Browser
) -> None:
    """More recipients than a page: "select all N matching" acts on the ones the filter
    matches, not only the 50 shown; Bulk Edit Content changes a future step; the pause reason
    and until show in the table; every page fits a phone's width."""
    base, smtp = stack
    sent_before = len(smtp.messages)
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await sign_in(page, base)
    await page.get_by_role("link", name="New sequence").click()
    await page.get_by_label("Name").fill("Sixty designers")
    await page.locator("#steps-0-type").select_option("email")
    await page.locator("#steps-0-delay").fill("P2D")
    await page.locator("#steps-0-subject").fill("Hello {{ first_name }}")
    await page.locator("#steps-0-body").fill("Open to a chat?")
    await page.get_by_role("button", name="Create sequence").click()
    people = "\n".join(f"d{i:02}@example.com,Designer,No{i:02}" for i in range(60))
    await page.get_by_label(re.compile("Email addresses")).fill(
        "email,first_name,last_name\n" + people
    )
    await page.get_by_role("button", name="Enroll").click()
    await expect(page.get_by_role("status")).to_contain_text("Enrolled 60.")
    sequence_url = page.url
    rows = page.get_by_role("row")
    await expect(rows.filter(has_text="Designer No00")).to_contain_text("In Progress")

    # Bulk Edit Content on all 60 (only 50 are on the page).
    await page.get_by_label("Select all 60 matching").check()
    await page.get_by_text("Bulk Edit Content").click()
    await page.get_by_label("Step", exact=True).select_option(label="Step 1 (email)")
    await page.get_by_label("Subject (or task title)").fill("A better subject")
    await page.get_by_role("button", name="Save for selected").click()
    await expect(page.get_by_role("status")).to_contain_text(
        "60 applied, 0 not eligible, 0 failed."
    )

    # Pause one from its row with a reason and a date: the table shows both.
    no07 = rows.filter(has_text="Designer No07")
    await no07.get_by_label("Actions for Designer No07").click()
    await no07.get_by_role("menuitem", name="Pause Recipient").click()
    await page.get_by_label("Reason (optional)").fill("on_leave")
    await page.get_by_label("Resume on (optional)").fill("2030-01-15T09:00")
    await page.get_by_role("button", name="Pause", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("now Paused")

    # The bulk bar asks each row what the bulk rule allows it: a paused and a running one
    # selected together can be neither paused nor resumed in bulk.
    await page.goto(sequence_url)
    await page.get_by_label("Select Designer No07").check()
    await expect(page.get_by_role("button", name="Resume Selected")).to_be_enabled()
    await page.get_by_label("Select Designer No00").check()
    for name in ("Pause Selected", "Resume Selected"):
        await expect(page.get_by_role("button", name=name)).to_be_disabled()
    await expect(page.get_by_role("button", name="Pause Selected")).to_have_attribute(
        "title", "Pause Selected needs every selected recipient In Progress or Error"
    )

    # The 59 still In Progress, paused in one go by the filter.
    await page.goto(sequence_url)
    await page.get_by_label("Status").select_option(label="In Progress")
    await page.get_by_role("button", name="Filter").click()
    await page.get_by_label("Select all 59 matching").check()
    await page.get_by_role("button", name="Pause Selected").click()
    await expect(page.get_by_role("status")).to_contain_text(
        "59 applied, 0 not eligible, 0 failed."
    )
    await page.goto(sequence_url)
    row = page.get_by_role("row").filter(has_text="Designer No07")
    await expect(row).to_contain_text("on leave")
    await expect(row).to_contain_text("until 2030-01-15 09:00 UTC")
    await expect(page.get_by_role("row").filter(has_text="Designer No49")).to_contain_text("Paused")
    await shot(page, "recipients-paused-by-filter")

    # The edit reached a recipient the page did not show.
    await page.goto(sequence_url + "?q=No55")
    await page.get_by_role("link", name="Designer No55").click()
    await expect(page.get_by_role("cell", name="A better subject")).to_be_visible()

    # The other pages, as a person finds them (one screenshot each).
    await page.goto(sequence_url)
    await page.get_by_text("Actions", exact=True).first.click()
    await page.get_by_role("menuitem", name="Errors").click()
    await expect(page.get_by_role("heading", name=re.compile("Errors"))).to_be_visible()
    await shot(page, "errors")
    await page.get_by_role("link", name="Contacts").click()
    await expect(page.get_by_role("heading", name="Contacts")).to_be_visible()
    await shot(page, "contacts")

    # A phone: no page is wider than the screen.
    phone = await browser.new_page(viewport={"width": 390, "height": 844})
    await sign_in(phone, base)
    paths = ["/sequences", sequence_url.removeprefix(base), page.url.removeprefix(base)]
    paths += ["/sequences/new", "/senders", "/suppressions", "/contacts"]
    too_wide = {}
    for path in paths:
        await phone.goto(base + path)
        wide = await phone.evaluate("document.documentElement.scrollWidth")
        if wide > 390:
            too_wide[path] = wide
            await shot(phone, "too-wide-" + path.strip("/").replace("/", "-"))
    assert not too_wide, f"wider than a 390px screen: {too_wide}"
    await phone.goto(sequence_url + "?status=paused")
    await shot(phone, "recipients-phone", full_page=False)
    assert len(smtp.messages) == sent_before  # the first step is two days away
    await phone.close()
    await page.close()

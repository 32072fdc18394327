"""The staff page in a real headless Chromium (Debian's), driven by Selenium.

What a person at the desk sees: the verdict, its colour, the fields, the ARIA live
region, the status list's age; fed through the keyboard-wedge input, the reader event
stream and the camera (Chromium's fake camera playing a picture of a card's QR code).
Under CI=true a browser that cannot start fails the run; elsewhere these tests skip.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import segno
from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from cityid_card import qr, sign_status_list
from cityid_card.desk import FaceBox, event_json, watch
from cityid_card.status import StatusListToken, StatusRegistry
from tests.gen2.test_cli import city

from .conftest import DESK_NOW, GEN2_CAN, HOLDER, Issuer, LiveServer, desk_config
from .helpers import Field
from .test_loop_sealed import sealed_tag
from .test_service_gen2 import gen2_server

__all__ = ["city"]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
    # The camera: a fake device that plays a file, allowed without a prompt.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
)
#: The panel colours of style.css (sRGB) and what each means.
COLOURS = {"valid": (0x0A, 0x5C, 0x2A), "invalid": (0xA1, 0x11, 0x1B), "idle": (0x2F, 0x3A, 0x45)}


def _write_y4m(path: Path, qr_text: str) -> None:
    """A short Y4M video (what Chromium's fake camera plays) of the QR code on white."""
    width, height = 640, 480
    symbol = segno.make(qr_text, error="m", micro=False)
    buffer = io.BytesIO()
    symbol.save(buffer, kind="png", scale=4, border=4)
    code = Image.open(io.BytesIO(buffer.getvalue())).convert("L")
    frame = Image.new("L", (width, height), 255)
    frame.paste(code, ((width - code.width) // 2, (height - code.height) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * (width // 2 * height // 2)
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(5):
            video.write(b"FRAME\n" + luma + chroma + chroma)


def _start_browser(camera_file: Path, profile: Path, downloads: Path) -> WebDriver:
    options = webdriver.ChromeOptions()
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--use-file-for-fake-video-capture={camera_file}")
    options.add_argument(f"--user-data-dir={profile}")
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def browser_folder() -> Iterator[Path]:
    """The browser's profile, its downloads and its camera's video: one temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="cityid-browser-"))
    (folder / "downloads").mkdir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(valid_qr: str, browser_folder: Path) -> Iterator[WebDriver]:
    folder = browser_folder
    camera = folder / "camera.y4m"
    _write_y4m(camera, valid_qr)
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    try:
        if missing:
            raise FileNotFoundError(f"{', '.join(missing)} not installed")
        driver = _start_browser(camera, folder / "profile", folder / "downloads")
    except (OSError, WebDriverException) as error:
        reason = f"headless Chromium cannot start ({type(error).__name__}: {error})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; scripts/test installs it (install_browser_stack)")
        pytest.skip(reason + "; ./scripts/test installs chromium and chromium-driver")
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: WebDriver, server: LiveServer) -> Iterator[WebDriver]:
    browser.get(f"http://{server.host}/")
    _wait(browser, lambda d: d.execute_script("return document.readyState") == "complete")
    yield browser
    browser.get("about:blank")  # closes the event stream before the server stops


def _wait(driver: WebDriver, condition: Any, timeout: float = 10) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def _state(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "result").get_attribute("data-state"))


def _scan(driver: WebDriver, text: str) -> None:
    """What a USB QR scanner does: type the code into the focused input and press Enter."""
    focused = driver.switch_to.active_element
    assert focused.get_attribute("id") == "scan"
    focused.send_keys(text + Keys.ENTER)


def _dominant_colour(driver: WebDriver) -> tuple[int, int, int]:
    png = driver.find_element(By.ID, "result").screenshot_as_png
    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(image.width * image.height)
    assert colours is not None
    count, colour = max(colours)
    assert count > 0.5 * image.width * image.height  # the panel, not its text, dominates
    assert isinstance(colour, tuple)
    red, green, blue = colour
    return int(red), int(green), int(blue)


def _nearest(colour: tuple[int, int, int]) -> str:
    return min(
        COLOURS, key=lambda n: sum((a - b) ** 2 for a, b in zip(colour, COLOURS[n], strict=True))
    )


def test_the_page_loads_everything_from_the_service(page: WebDriver, server: LiveServer) -> None:
    assert page.title == "City ID check"
    assert page.execute_script("return typeof window.jsQR") == "function"
    origins = page.execute_script(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).origin)"
    )
    assert origins and set(origins) == {f"http://{server.host}"}  # no CDN: works offline
    assert page.switch_to.active_element.get_attribute("id") == "scan"  # ready for a scanner
    result = page.find_element(By.ID, "result")
    assert result.get_attribute("role") == "status"
    assert result.get_attribute("aria-live") == "assertive"
    assert _state(page) == "idle" and _nearest(_dominant_colour(page)) == "idle"
    label = page.find_element(By.CSS_SELECTOR, "label[for=scan]").text
    assert "QR code scanner" in label


def test_a_wedge_scan_of_a_valid_card_shows_green_and_the_allowed_fields(
    page: WebDriver, valid_qr: str
) -> None:
    _scan(page, valid_qr)
    _wait(page, lambda d: _state(d) == "valid")
    result = page.find_element(By.ID, "result")
    assert page.find_element(By.ID, "result-title").text == "VALID"
    terms = [e.text for e in result.find_elements(By.CSS_SELECTOR, "dt")]
    values = [e.text for e in result.find_elements(By.CSS_SELECTOR, "dd")]
    assert dict(zip(terms, values, strict=True)) == {"Name": HOLDER, "Valid through": "2031-11-20"}
    assert "1990" not in result.text and "4711" not in result.text  # library policy
    assert page.find_element(By.ID, "scan").get_attribute("value") == ""  # not left on screen
    colour = _dominant_colour(page)
    assert _nearest(colour) == "valid" and colour[1] > colour[0] + 40


def test_a_wedge_scan_of_an_expired_card_shows_red_and_why(
    page: WebDriver, expired_qr: str
) -> None:
    _scan(page, expired_qr)
    _wait(page, lambda d: _state(d) == "invalid")
    result = page.find_element(By.ID, "result")
    assert page.find_element(By.ID, "result-title").text == "NOT ACCEPTED"
    assert "expired" in result.text and "(Expired)" in result.text
    assert HOLDER not in result.text
    colour = _dominant_colour(page)
    assert _nearest(colour) == "invalid" and colour[0] > colour[1] + 80


def test_a_scan_is_not_lost_when_the_focus_left_the_input(page: WebDriver, valid_qr: str) -> None:
    page.find_element(By.TAG_NAME, "h1").click()  # staff clicked somewhere on the page
    assert page.switch_to.active_element.tag_name == "body"
    ActionChains(page).send_keys(valid_qr + Keys.ENTER).perform()  # the scanner types
    _wait(page, lambda d: _state(d) == "valid")
    assert HOLDER in page.find_element(By.ID, "result").text


def test_garbage_from_the_scanner_is_a_clear_rejection(page: WebDriver) -> None:
    _scan(page, "https://example.com/not-a-card")
    _wait(page, lambda d: _state(d) == "invalid")
    assert "MalformedCredential" in page.find_element(By.ID, "result").text


def test_keyboard_only(page: WebDriver, valid_qr: str) -> None:
    _scan(page, valid_qr)
    _wait(page, lambda d: _state(d) == "valid")
    # Escape clears the screen and returns to the scanner input.
    page.switch_to.active_element.send_keys(Keys.ESCAPE)
    _wait(page, lambda d: _state(d) == "idle")
    assert page.switch_to.active_element.get_attribute("id") == "scan"
    # Tab reaches every control in order; Enter on "Clear screen" works too.
    order = []
    for _ in range(3):
        page.switch_to.active_element.send_keys(Keys.TAB)
        order.append(page.switch_to.active_element.get_attribute("id"))
    assert order == ["check", "clear", "camera"]
    page.find_element(By.ID, "scan").send_keys(valid_qr)
    page.find_element(By.ID, "check").send_keys(Keys.ENTER)
    _wait(page, lambda d: _state(d) == "valid")
    page.find_element(By.ID, "clear").send_keys(Keys.ENTER)
    _wait(page, lambda d: _state(d) == "idle")


def test_reader_taps_arrive_live(browser: WebDriver, issuer: Issuer) -> None:
    def reader(stop: threading.Event) -> list[dict[str, object]]:
        stop.wait()  # a reader loop that has nothing to say; the test publishes
        return []

    live = LiveServer(desk_config(issuer, events=reader)).start()
    hub = live.config.hub
    try:
        browser.get(f"http://{live.host}/")
        _wait(
            browser, lambda d: "Waiting for a card" in d.find_element(By.ID, "reader-status").text
        )
        _wait(browser, lambda d: hub.subscribers > 0)
        hub.publish({"event": "arrival", "valid": True, "name": HOLDER, "expires": "2031-11-20"})
        _wait(browser, lambda d: _state(d) == "valid")
        assert HOLDER in browser.find_element(By.ID, "result").text
        assert "card reader" in browser.find_element(By.ID, "result-detail").text
        hub.publish({"event": "removal"})
        _wait(browser, lambda d: "taken off" in d.find_element(By.ID, "reader-status").text)
        hub.publish({"event": "arrival", "valid": False, "error": "Revoked"})
        _wait(browser, lambda d: _state(d) == "invalid")
        assert "revoked" in browser.find_element(By.ID, "result").text
    finally:
        browser.get("about:blank")
        live.stop()


def test_without_a_reader_the_page_says_so(page: WebDriver) -> None:
    _wait(page, lambda d: "No card reader" in d.find_element(By.ID, "reader-status").text)


def test_the_status_list_age_is_shown(browser: WebDriver, issuer: Issuer) -> None:
    registry = StatusRegistry.for_key(issuer.key, 1024)
    token = StatusListToken.from_bytes(
        sign_status_list(issuer.key, registry, issued_at=datetime(2027, 5, 20, tzinfo=UTC)),
        issuer.trust,
    )
    live = LiveServer(desk_config(issuer, status_lists=lambda: [token])).start()
    try:
        browser.get(f"http://{live.host}/")
        _wait(browser, lambda d: d.find_element(By.ID, "status-age").get_attribute("data-age"))
        element = browser.find_element(By.ID, "status-age")
        assert element.text == "Status list 12 days old"
        assert element.get_attribute("data-stale") == "true"  # over a week: shown in red
        assert "library" in browser.find_element(By.ID, "policy").text
    finally:
        browser.get("about:blank")
        live.stop()


def test_an_expired_status_list_is_flagged(browser: WebDriver, issuer: Issuer) -> None:
    registry = StatusRegistry.for_key(issuer.key, 1024)
    token = StatusListToken.from_bytes(
        sign_status_list(
            issuer.key,
            registry,
            issued_at=datetime(2027, 5, 30, tzinfo=UTC),
            expires_at=datetime(2027, 5, 31, tzinfo=UTC),
        ),
        issuer.trust,
    )
    live = LiveServer(desk_config(issuer, status_lists=lambda: [token])).start()
    try:
        browser.get(f"http://{live.host}/")
        _wait(browser, lambda d: d.find_element(By.ID, "status-age").get_attribute("data-age"))
        element = browser.find_element(By.ID, "status-age")
        assert element.text.startswith("Status list 2 days old (expired")
        assert element.get_attribute("data-stale") == "true"  # shown in red, though recent
    finally:
        browser.get("about:blank")
        live.stop()


def test_without_status_lists_the_page_says_so(page: WebDriver) -> None:
    _wait(page, lambda d: "No status list" in d.find_element(By.ID, "status-age").text)


def test_the_camera_reads_a_qr_code(page: WebDriver) -> None:
    page.find_element(By.ID, "camera").send_keys(Keys.ENTER)
    _wait(page, lambda d: _state(d) == "valid", timeout=20)
    assert HOLDER in page.find_element(By.ID, "result").text
    assert page.find_element(By.ID, "camera").get_attribute("aria-pressed") == "false"
    assert "read from the camera" in page.find_element(By.ID, "camera-status").text


def test_the_library_hand_off_needs_the_consent_box(
    browser: WebDriver, browser_folder: Path, issuer: Issuer, valid_qr: str
) -> None:
    downloads = browser_folder / "downloads"
    live = LiveServer(desk_config(issuer, koha=("CPL", "PT"))).start()
    try:
        browser.get(f"http://{live.host}/")
        _wait(browser, lambda d: "library" in d.find_element(By.ID, "policy").text)
        _scan(browser, valid_qr)
        _wait(browser, lambda d: _state(d) == "valid")
        section = browser.find_element(By.ID, "ils")
        _wait(browser, lambda d: section.is_displayed())
        button = browser.find_element(By.ID, "ils-register")
        assert not button.is_enabled()  # no consent yet
        consent = browser.find_element(By.ID, "ils-consent")
        consent.send_keys(Keys.SPACE)  # keyboard only
        assert button.is_enabled()
        button.send_keys(Keys.ENTER)
        _wait(browser, lambda d: "Patron record ready" in d.find_element(By.ID, "ils-status").text)
        record = downloads / "koha-patron.csv"
        _wait(browser, lambda d: record.exists() and record.stat().st_size > 0)
        text = record.read_text(encoding="utf-8")
        assert text.splitlines()[0] == "surname,firstname,branchcode,categorycode,patron_attributes"
        assert text.splitlines()[1] == f"{HOLDER},,CPL,PT,"
        # Escape clears the screen and withdraws the offer.
        browser.switch_to.active_element.send_keys(Keys.ESCAPE)
        _wait(browser, lambda d: not section.is_displayed())
    finally:
        browser.get("about:blank")
        live.stop()
        for file in downloads.iterdir():
            file.unlink()


def test_no_hand_off_offered_unless_configured(page: WebDriver, valid_qr: str) -> None:
    _wait(page, lambda d: "library" in d.find_element(By.ID, "policy").text)
    _scan(page, valid_qr)
    _wait(page, lambda d: _state(d) == "valid")
    assert not page.find_element(By.ID, "ils").is_displayed()


@pytest.mark.parametrize(
    ("policy", "verdict", "state"),
    [("age-check:21", "VALID: 21 OR OLDER", "valid"), ("age-check:40", "UNDER 40", "invalid")],
)
def test_an_age_check_shows_only_the_answer(
    browser: WebDriver, issuer: Issuer, valid_qr: str, policy: str, verdict: str, state: str
) -> None:
    live = LiveServer(desk_config(issuer, policy)).start()  # the holder is 37
    try:
        browser.get(f"http://{live.host}/")
        _wait(browser, lambda d: "age-check" in d.find_element(By.ID, "policy").text)
        _scan(browser, valid_qr)
        _wait(browser, lambda d: _state(d) == state)
        result = browser.find_element(By.ID, "result")
        assert browser.find_element(By.ID, "result-title").text == verdict
        assert HOLDER not in result.text and "1990" not in result.text
        assert result.find_elements(By.CSS_SELECTOR, "dd") == []
        assert _nearest(_dominant_colour(browser)) == state
    finally:
        browser.get("about:blank")
        live.stop()


AXE = Path(__file__).parent / "vendor" / "axe.min.js"


def _axe_violations(driver: WebDriver) -> list[dict[str, Any]]:
    """What axe-core's WCAG 2.1 A and AA rules find on the page as it is now."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    driver.set_script_timeout(30)
    found = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
          .then(r => done(r.violations.map(v => ({id: v.id, nodes: v.nodes.map(n => n.target)}))))
          .catch(e => done([{id: "axe failed: " + e, nodes: []}]));
        """
    )
    assert isinstance(found, list)
    return found


def test_axe_finds_no_wcag_aa_violation(
    browser: WebDriver, issuer: Issuer, valid_qr: str, expired_qr: str
) -> None:
    live = LiveServer(desk_config(issuer, koha=("CPL", "PT"))).start()
    try:
        browser.get(f"http://{live.host}/")
        _wait(browser, lambda d: "library" in d.find_element(By.ID, "policy").text)
        assert _axe_violations(browser) == []  # waiting
        _scan(browser, valid_qr)
        _wait(browser, lambda d: _state(d) == "valid")
        _wait(browser, lambda d: d.find_element(By.ID, "ils").is_displayed())
        assert _axe_violations(browser) == []  # valid, with the library hand-off offered
        browser.find_element(By.ID, "scan").send_keys(expired_qr + Keys.ENTER)
        _wait(browser, lambda d: _state(d) == "invalid")
        assert _axe_violations(browser) == []  # rejected
        # The check can fail: an unlabelled input and grey-on-white text are found.
        browser.execute_script(
            "const main = document.querySelector('main');"
            "main.append(document.createElement('input'));"
            "const faint = document.createElement('p');"
            "faint.textContent = 'faint'; faint.style.color = '#aaa'; main.append(faint);"
        )
        assert {v["id"] for v in _axe_violations(browser)} >= {"label", "color-contrast"}
    finally:
        browser.get("about:blank")
        live.stop()


def test_a_generation_2_card_face_scan_shows_the_museum_pseudonym(
    browser: WebDriver, city: Path, gen2_card: str
) -> None:
    """The real reader loop on an emulated generation-2 card, the CAN scanned into the page."""
    live = gen2_server(city, gen2_card, "museum")
    try:
        browser.get(f"http://{live.host}/")
        # The card is on the reader before its face was scanned: the page asks for it.
        _wait(browser, lambda d: "SCAN THE CARD FACE" in d.find_element(By.ID, "result").text)
        _scan(browser, "CIDC1:000000")  # another card's face: the chip says no
        _wait(browser, lambda d: _state(d) == "invalid")
        assert "(WrongCan)" in browser.find_element(By.ID, "result").text
        _scan(browser, qr.encode_can(GEN2_CAN))
        _wait(browser, lambda d: _state(d) == "valid")
        result = browser.find_element(By.ID, "result")
        terms = [e.text for e in result.find_elements(By.CSS_SELECTOR, "dt")]
        values = [e.text for e in result.find_elements(By.CSS_SELECTOR, "dd")]
        assert terms == ["Pseudonym"] and len(values[0]) == 64
        int(values[0], 16)
        assert "Ana" not in result.text and GEN2_CAN not in result.text
        assert _nearest(_dominant_colour(browser)) == "valid"
    finally:
        browser.get("about:blank")
        live.stop()


def test_a_sealed_tag_face_scan_then_the_tap_shows_the_name_under_the_library_policy(
    browser: WebDriver, issuer: Issuer
) -> None:
    """The real reader loop, the tag (NTAG215 under nfcpy) tapped after its face is scanned."""
    field = Field()
    tag, face = sealed_tag(issuer)
    faces = FaceBox()
    config = desk_config(issuer, "library", faces=faces)

    def reader(stop: threading.Event) -> Iterator[dict[str, Any]]:
        for event in watch(
            "field", config.verifier, faces=faces, interval=0.02, stop=stop, driver=field
        ):
            yield event_json(event, config.policy, DESK_NOW.date())

    config.events = reader
    live = LiveServer(config).start()
    try:
        browser.get(f"http://{live.host}/")
        _wait(
            browser, lambda d: "Waiting for a card" in d.find_element(By.ID, "reader-status").text
        )
        _scan(browser, "CIDS1:ABC")  # a damaged code: refused, nothing armed
        _wait(browser, lambda d: "(NotASealKey)" in d.find_element(By.ID, "result").text)
        _scan(browser, face)
        _wait(browser, lambda d: "TAP THE TAG" in d.find_element(By.ID, "result").text)
        assert faces.armed and browser.find_element(By.ID, "scan").get_attribute("value") == ""
        field.put(tag)
        _wait(browser, lambda d: _state(d) == "valid")
        result = browser.find_element(By.ID, "result")
        terms = [e.text for e in result.find_elements(By.CSS_SELECTOR, "dt")]
        values = [e.text for e in result.find_elements(By.CSS_SELECTOR, "dd")]
        assert dict(zip(terms, values, strict=True)) == {
            "Name": HOLDER,
            "Valid through": "2031-11-20",
        }
        assert "1990" not in result.text and "card reader" in result.text
        assert _nearest(_dominant_colour(browser)) == "valid"
        # Taken off and tapped again without a scan: the page asks for the card face.
        field.take()
        _wait(browser, lambda d: "taken off" in d.find_element(By.ID, "reader-status").text)
        field.put(tag)
        _wait(browser, lambda d: "SCAN THE CARD FACE" in d.find_element(By.ID, "result").text)
        assert "sealed" in browser.find_element(By.ID, "result-detail").text
        assert HOLDER not in browser.find_element(By.ID, "result").text
    finally:
        browser.get("about:blank")
        live.stop()

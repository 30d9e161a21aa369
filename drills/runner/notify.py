"""Tell people how drills went: the CI job summary and a chat message, after `drill run` and after a game day.

One home for `drill run` (`--webhook URL`) and the pytest plugin (`--drill-webhook`): the Markdown summary
goes to $GITHUB_STEP_SUMMARY when it is set; the chat message is one Slack-compatible incoming-webhook
message (`{"text": …}`) that links the CI run when there is one. The webhook URL is the
user's own choice of endpoint (a chat service is not on loopback), so unlike an attached stack's URLs it is
only checked to be a plain http(s) URL; it is never written to the run directory (it holds a secret token).
A failed post is said in one line and never fails the drill: the verdict is already on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from drills.report import github
from drills.report.digest import markdown, where

TIMEOUT_S = 10.0


def notify(digests: Iterable[Mapping[str, Any]], webhook: str | None, log: Callable[[str], None],
           title: str, post_when: str = "always") -> None:
    """Append the job summary (in GitHub Actions) and post to the webhook (when given; with post_when
    "failed", only when a drill failed). Never raises: the verdict is already on disk."""
    runs = list(digests)
    ci_url = github.run_url()
    try:
        github.append_step_summary(markdown(runs, ci_url, title))
    except OSError as exc:
        log(f"could not append to ${github.SUMMARY_VAR}: {exc.strerror or exc}")
    if webhook and (post_when == "always" or any(not d.get("ok") for d in runs)):
        post(webhook, payload(runs, ci_url), log)


def webhook_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook ("expected …, found …"), or None when it is a plain http(s) URL."""
    expected = "expected an http:// or https:// URL with a host"
    odd = next((c for c in url if c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F), None)
    if odd is not None:
        return f"{expected}, found a URL holding U+{ord(odd):04X} (whitespace or a control character)"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError as exc:
        return f"{expected}, found {url!r} ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{expected}, found {url!r}"
    return None


def _slack(text: object) -> str:
    """Text as Slack shows it literally (its mrkdwn reads &, < and > as markup)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(digests: Iterable[Mapping[str, Any]], ci_url: str | None) -> dict[str, str]:
    """The message: how many drills failed, then each failed drill (each drill when none failed) with its
    verdict, exit code and where to look: the CI run when there is one, else the local report."""
    runs = list(digests)
    failed = [d for d in runs if not d.get("ok")]
    head = (f"*Game day: {len(failed)} of {len(runs)} drill(s) failed*" if failed
            else f"*Game day: {len(runs)} drill(s) passed*")
    lines = [head]
    for d in failed or runs:
        verdict = d.get("verdict") or "no verdict"
        lines.append(f"• {_slack(d.get('scenario'))}: {_slack(verdict)} (exit {d.get('exit_code')}) — "
                     f"{_slack(where(d, ci_url))}")
    return {"text": "\n".join(lines)}


def post(url: str, message: Mapping[str, Any], log: Callable[[str], None]) -> bool:
    """POST the message as JSON; True when the endpoint took it (2xx). Failures are logged, never raised."""
    import requests  # imported here: the CLI's start-up does not pay for it

    try:
        response = requests.post(url, json=dict(message), timeout=TIMEOUT_S)
    except requests.RequestException as exc:   # its text holds the URL, and the URL's path a token: not shown
        log(f"could not post to the webhook at {_host(url)}: {exc.__class__.__name__}")
        return False
    if not 200 <= response.status_code < 300:
        log(f"the webhook at {_host(url)} answered HTTP {response.status_code}: the message was not taken")
        return False
    return True


def _host(url: str) -> str:
    """The URL's host only: an incoming webhook's path is its secret."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"

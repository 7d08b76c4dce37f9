"""The Bolt app: thin listeners that ack, parse, call ``ChatOpsService`` and render.

Every listener acks at once (``process_before_response``: the ack is the HTTP response)
and does its work in a lazy listener on Bolt's executor, so Slack gets its answer within
3 s whatever the database or the Web API is doing. Authorisation and the audit identity
come from ``chatops.auth``'s middleware, which runs before any listener.

Replies: results go to the channel (``chat.postMessage``; ``response_url`` when the bot is
not in it), problems only to the person who asked (``chat.postEphemeral``), a clicked
button updates its message (``chat.update``), the dashboard's heatmap is uploaded with
``files_upload_v2`` in the dashboard's thread, and a CSV import reports in the thread of
the message that shared the file.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from campaigns import types as t
from campaigns.importing import MAX_IMPORT_BYTES
from campaigns.phones import mask
from chatops import commands as c
from chatops import strings as s
from chatops import views
from chatops.alerts import AlertEvent, AlertPoster, AlertSource
from chatops.auth import Asked, Policy, classify, import_text, is_import_message, make_middleware
from chatops.auth import who_of as _who_of
from chatops.charts import heatmap_png
from chatops.errors import ChatOpsError
from chatops.files import DownloadFailed, FileTooLarge, download, is_csv
from chatops.service import CampaignControl, ChatOpsService, ImportResult
from storage.db import Sessions
from storage.repos import Who

log = logging.getLogger(__name__)

COMMAND: Final = "/dialer"
_FALLBACK_ERRORS: Final = frozenset({"not_in_channel", "channel_not_found", "is_archived"})


@dataclass(frozen=True, slots=True)
class ChatOpsConfig:
    """What the Slack app needs from the settings (``dialer.slack_commands`` builds it)."""

    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)
    api_url: str = "https://slack.com/api/"
    operators: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    alerts_channel: str | None = None
    command: str = COMMAND
    import_progress_s: float = 2.0
    workers: int = 8
    verify_token: bool = False


class _Reply:
    """Where the answers to one request go."""

    def __init__(self, client: WebClient, channel: str, user: str,
                 respond: Respond | None = None, thread_ts: str | None = None) -> None:
        self.client, self.channel, self.user = client, channel, user
        self.respond, self.thread_ts = respond, thread_ts

    def post(self, msg: views.Message) -> str | None:
        """Post in the channel; returns the message's ts (None via ``response_url``)."""
        try:
            kwargs: dict[str, Any] = {"thread_ts": self.thread_ts} if self.thread_ts else {}
            response = self.client.chat_postMessage(channel=self.channel, **msg, **kwargs)
            return str(response.get("ts") or "") or None
        except SlackApiError as exc:
            if self.respond is None or exc.response.get("error") not in _FALLBACK_ERRORS:
                raise
            self.respond(response_type="in_channel", replace_original=False, **msg)
            return None

    def private(self, msg: views.Message) -> None:
        """Show only to the person who asked."""
        try:
            self.client.chat_postEphemeral(channel=self.channel, user=self.user, **msg)
        except SlackApiError as exc:
            if self.respond is None or exc.response.get("error") not in _FALLBACK_ERRORS:
                raise
            self.respond(response_type="ephemeral", replace_original=False, **msg)

    def update(self, ts: str, msg: views.Message) -> None:
        """Replace a message the bot posted."""
        self.client.chat_update(channel=self.channel, ts=ts, **msg)


class _Listeners:
    """The listeners; each is thin: parse, one service call, render, reply."""

    def __init__(self, service: ChatOpsService, config: ChatOpsConfig) -> None:
        self.service = service
        self.config = config
        self._seen: deque[str] = deque(maxlen=1000)
        self._seen_lock = threading.Lock()

    def _first_delivery(self, event_id: str) -> bool:
        """False for an event Slack delivers again (a retry) after we took it once."""
        with self._seen_lock:
            if event_id in self._seen:
                return False
            self._seen.append(event_id)
            return True

    # --- /dialer --------------------------------------------------------------------

    def ack_command(self, ack: Ack, body: dict[str, Any]) -> None:
        """Ack at once; help and parse errors are the ack itself (ephemeral)."""
        try:
            command = c.parse(str(body.get("text") or ""))
        except c.CommandError as exc:
            ack(response_type="ephemeral", **views.text_message(exc.message))
            return
        if isinstance(command, c.Help):
            ack(response_type="ephemeral", **views.help_message())
            return
        ack()

    def run_command(self, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """Lazy: carry the command out and reply."""
        try:
            command = c.parse(str(body.get("text") or ""))
        except c.CommandError:
            return  # answered in the ack
        asked = classify(body) or Asked("command", command.action, "", "")
        reply = _Reply(client, asked.channel, asked.user, respond)
        self._guarded(reply, lambda: self._command(command, asked, reply, client))

    def _command(self, command: c.Command, asked: Asked, reply: _Reply,
                 client: WebClient) -> None:
        who = _who_of(asked)
        svc = self.service
        match command:
            case c.Help():
                pass
            case c.ListCampaigns():
                reply.post(views.campaigns_message(svc.list_campaigns()))
            case c.Status(campaign=None):
                reply.post(views.overview_message(svc.list_campaigns()))
            case c.Status(campaign=str(key)):
                reply.post(views.status_message(svc.status(key)))
            case c.Pause(campaign=key):
                change = svc.set_status(key, t.CampaignStatus.PAUSED, who)
                reply.post(views.change_message(change, asked.user))
            case c.Resume(campaign=key):
                change = svc.set_status(key, t.CampaignStatus.ACTIVE, who)
                reply.post(views.change_message(change, asked.user))
            case c.Cancel(campaign=key):
                ref = svc.campaign(key)
                reply.post(views.cancel_question(ref.id, ref.name))
            case c.Add(campaign=key, phone=phone, name=name):
                reply.post(views.added_message(svc.add_contact(key, phone, name, who),
                                               asked.user))
            case c.ImportFile():
                svc.campaign(command.campaign)  # an unknown name is the first thing to fix
                reply.private(views.text_message(s.IMPORT_NO_FILE))
            case c.Dashboard(campaign=key):
                self._dashboard(key, reply, client)
            case c.Numbers(campaign=key):
                reply.post(views.numbers_message(svc.numbers(key)))
            case c.SetAgent(campaign=key, agent=agent):
                reply.post(views.agent_message(svc.set_agent(key, agent, who), asked.user))

    def _dashboard(self, key: str, reply: _Reply, client: WebClient) -> None:
        view = self.service.dashboard(key)
        ts = reply.post(views.dashboard_message(view))
        png = heatmap_png(view.dashboard.heatmap, view.timezone)
        try:
            client.files_upload_v2(
                channel=reply.channel, file=png, filename="heatmap.png",
                title=s.HEATMAP_TITLE.format(timezone=view.timezone),
                initial_comment=s.HEATMAP_COMMENT.format(name=views.esc(view.campaign)),
                thread_ts=ts)
        except SlackApiError as exc:
            reply.private(views.text_message(s.HEATMAP_FAILED.format(
                reason=views.esc(exc.response.get("error") or "error"))))

    # --- buttons --------------------------------------------------------------------

    def ack_button(self, ack: Ack) -> None:
        """Ack a click at once."""
        ack()

    def pause_clicked(self, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """Lazy: Pause on a status message."""
        self._set_from_button(body, client, respond, t.CampaignStatus.PAUSED)

    def resume_clicked(self, body: dict[str, Any], client: WebClient,
                       respond: Respond) -> None:
        """Lazy: Resume on a status message."""
        self._set_from_button(body, client, respond, t.CampaignStatus.ACTIVE)

    def cancel_confirmed(self, body: dict[str, Any], client: WebClient,
                         respond: Respond) -> None:
        """Lazy: "Yes, cancel it"."""
        self._set_from_button(body, client, respond, t.CampaignStatus.CANCELLED)

    def cancel_declined(self, body: dict[str, Any], client: WebClient,
                        respond: Respond) -> None:
        """Lazy: "No, keep it"."""
        _, reply, value = self._button(body, client, respond)

        def keep() -> None:
            ref = self.service.campaign(value)
            self._replace(body, reply, respond, views.kept_message(ref.name, ref.status))

        self._guarded(reply, keep)

    def _button(self, body: dict[str, Any], client: WebClient,
                respond: Respond) -> tuple[Asked, _Reply, str]:
        asked = classify(body) or Asked("button", None, "", "")
        value = str(((body.get("actions") or [{}])[0]).get("value") or "")
        return asked, _Reply(client, asked.channel, asked.user, respond), value

    def _set_from_button(self, body: dict[str, Any], client: WebClient, respond: Respond,
                         target: t.CampaignStatus) -> None:
        asked, reply, value = self._button(body, client, respond)

        def change() -> None:
            result = self.service.set_status(value, target, _who_of(asked))
            self._replace(body, reply, respond, views.change_message(result, asked.user))

        self._guarded(reply, change)

    def _replace(self, body: dict[str, Any], reply: _Reply, respond: Respond,
                 msg: views.Message) -> None:
        container = body.get("container") or {}
        ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
        if ts and not container.get("is_ephemeral"):
            reply.update(str(ts), msg)
        else:
            respond(replace_original=True, **msg)

    # --- a CSV shared with "add <campaign>" ------------------------------------------

    def ack_event(self, ack: Ack) -> None:
        """Events are acked at once."""
        ack()

    def import_files(self, body: dict[str, Any], client: WebClient) -> None:
        """Lazy: download each CSV, import it in the background, report in the thread."""
        event = body.get("event") or {}
        asked = classify(body)
        if asked is None or not self._first_delivery(str(body.get("event_id") or "")):
            return
        reply = _Reply(client, asked.channel, asked.user, thread_ts=str(event.get("ts") or ""))
        command = c.parse(import_text(str(event.get("text") or "")))
        if not isinstance(command, c.ImportFile):
            return
        who = _who_of(asked)
        for file in event.get("files") or []:
            self._guarded(reply, _bind(self._import_one, file, command.campaign, who, reply))

    def _import_one(self, file: dict[str, Any], campaign: str, who: Who,
                    reply: _Reply) -> None:
        filename = str(file.get("name") or file.get("title") or "file")
        safe = views.esc(filename).replace("`", "'")
        if not is_csv(file):
            reply.post(views.text_message(s.IMPORT_NOT_CSV.format(filename=safe)))
            return
        ref = self.service.campaign(campaign)
        try:
            data = download(file, self.config.bot_token, self.config.api_url, MAX_IMPORT_BYTES)
        except FileTooLarge:
            reply.post(views.text_message(s.IMPORT_TOO_LARGE.format(
                filename=safe, limit=MAX_IMPORT_BYTES // (1024 * 1024))))
            return
        except DownloadFailed as exc:
            reply.post(views.text_message(s.IMPORT_DOWNLOAD_FAILED.format(
                filename=safe, reason=views.esc(exc.reason))))
            return
        progress_ts = reply.post(views.import_started(filename, ref.name, len(data)))
        results: list[ImportResult] = []
        started = self.service.start_import(str(ref.id), filename, data, who, results.append)
        self._watch(started.thread, started.import_id, filename, reply, progress_ts)
        if results:
            reply.post(views.import_report(filename, ref.name, results[0]))

    def _watch(self, thread: threading.Thread, import_id: int, filename: str, reply: _Reply,
               ts: str | None) -> None:
        last = -1
        while True:
            thread.join(timeout=self.config.import_progress_s)
            if not thread.is_alive():
                return
            progress = self.service.import_progress(import_id)
            if ts and progress.processed != last:
                last = progress.processed
                try:
                    reply.update(ts, views.import_progress(filename, progress))
                except SlackApiError:
                    log.warning("could not update the import progress")

    def ignore(self, ack: Ack) -> None:
        """Events the app does not act on are still acked (Slack retries otherwise)."""
        ack()

    # --- shared -----------------------------------------------------------------------

    def _guarded(self, reply: _Reply, work: Callable[[], None]) -> None:
        try:
            work()
        except ChatOpsError as exc:
            _safe(_bind(reply.private, views.error_message(exc)))
        except Exception:
            log.exception("slack request failed")
            _safe(lambda: reply.private(views.text_message(s.INTERNAL_ERROR)))


def _bind(func: Callable[..., None], *args: Any) -> Callable[[], None]:
    return lambda: func(*args)


def _safe(work: Callable[[], None]) -> None:
    try:
        work()
    except Exception:  # nothing more to tell the user with
        log.exception("could not reply on slack")


class _NoTokenNotice(logging.Filter):
    """Drops Bolt's notice that ``SLACK_BOT_TOKEN`` from the environment is unused: the
    client we hand Bolt carries that very token (and the Web API base URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


class MaskPhoneNumbers(logging.Filter):
    """Masks every ``+``-led phone number in a record (``campaigns.phones.mask``).

    At debug level the Slack SDK logs whole request and response bodies, and Socket Mode
    whole envelopes: replies like "added +14155550123" and the commands people type.
    """

    _PHONE = re.compile(r"\+\d(?:[\d\s().\-]{5,22}\d)")

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is the handler's to report, not ours
            return True
        masked = self._PHONE.sub(
            lambda m: mask("+" + "".join(ch for ch in m.group() if ch.isdigit())), text)
        if masked != text:
            record.msg, record.args = masked, ()
        return True


_bolt_log = logging.getLogger("chatops.bolt")
_bolt_log.addFilter(_NoTokenNotice())
PAYLOAD_LOGGERS: Final = ("chatops.bolt", "slack_sdk.web.base_client",
                          "slack_sdk.webhook.client", "slack_sdk.socket_mode.builtin.client")
"""Loggers that may write message bodies (Bolt hands Socket Mode our ``chatops.bolt``)."""
for _name in PAYLOAD_LOGGERS:
    logging.getLogger(_name).addFilter(MaskPhoneNumbers())


def build_app(config: ChatOpsConfig, sessions: Sessions, clock: Callable[[], datetime],
              control: CampaignControl | None = None) -> App:
    """The Bolt app with every listener, the auth middleware and lazy work.

    With ``config.verify_token`` the token is checked with ``auth.test`` here (Bolt raises
    ``BoltError`` when Slack rejects it), so a bad token fails at start-up and no request
    waits for ``auth.test``; without it the check happens at the first request and the
    app can be built with no network.
    """
    client = WebClient(token=config.bot_token, base_url=config.api_url)
    executor = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="slack")
    app = App(client=client, signing_secret=config.signing_secret,
              token_verification_enabled=config.verify_token, process_before_response=True,
              listener_executor=executor, logger=_bolt_log)
    listeners = _Listeners(ChatOpsService(sessions, clock, control), config)
    app.use(make_middleware(Policy(config.operators, config.channels), executor))
    app.command(config.command)(ack=listeners.ack_command, lazy=[listeners.run_command])
    for action_id, lazy in ((views.ACTION_PAUSE, listeners.pause_clicked),
                            (views.ACTION_RESUME, listeners.resume_clicked),
                            (views.ACTION_CANCEL_CONFIRM, listeners.cancel_confirmed),
                            (views.ACTION_CANCEL_KEEP, listeners.cancel_declined)):
        app.action(action_id)(ack=listeners.ack_button, lazy=[lazy])
    app.event("message", matchers=[_import_matcher])(ack=listeners.ack_event,
                                                     lazy=[listeners.import_files])
    app.event("message")(listeners.ignore)
    app.event("file_shared")(listeners.ignore)
    return app


def _import_matcher(body: dict[str, Any]) -> bool:
    return is_import_message(body.get("event") or {})


def alert_poster(app: App, channel: str, source: AlertSource,
                 interval_s: float = 5.0) -> AlertPoster:
    """A poster that sends ``source``'s alerts to ``channel`` with the app's client."""

    def post(event: AlertEvent) -> None:
        app.client.chat_postMessage(channel=channel, **views.alert_message(event))

    return AlertPoster(source, post, interval_s)

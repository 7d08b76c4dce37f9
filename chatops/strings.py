"""Every user-facing string of the Slack app, in one place.

Templates use ``str.format`` fields. Values that come from users or the database are
escaped by ``chatops.views`` before they are formatted in; these templates themselves
are trusted mrkdwn.
"""

from __future__ import annotations

from typing import Final

HELP_TITLE: Final = "Dialer commands"
HELP: Final = (
    "`/dialer help` – this list\n"
    "`/dialer list` – every campaign with its status\n"
    "`/dialer status [campaign]` – one campaign (or all) with Pause/Resume buttons\n"
    "`/dialer pause &lt;campaign&gt;` – stop dialling (operators)\n"
    "`/dialer resume &lt;campaign&gt;` – start dialling again (operators)\n"
    "`/dialer cancel &lt;campaign&gt;` – end a campaign for good, after a confirmation "
    "(operators)\n"
    "`/dialer add &lt;campaign&gt; &lt;phone&gt; [name]` – add one contact, e.g. "
    "`/dialer add spring +1 415 555 0123 Ada` (operators)\n"
    "Share a CSV file with the message `add &lt;campaign&gt;` to import contacts (operators)\n"
    "`/dialer dashboard &lt;campaign&gt;` – quick stats, answer rates, goals and the heatmap\n"
    "`/dialer numbers &lt;campaign&gt;` – caller-ID numbers: calls today, spam scores, "
    "exclusions\n"
    "`/dialer agent &lt;campaign&gt; &lt;agent&gt;` – the voice agent for the campaign's "
    "calls (operators)\n"
    "A campaign is named by its name or id; quote names with spaces: `\"spring promo\"`."
)

# --- parsing ---------------------------------------------------------------------------
UNKNOWN_SUBCOMMAND: Final = "I don't know `{word}`. Try `/dialer help`."
NEEDS_CAMPAIGN: Final = "`{word}` needs a campaign: `/dialer {word} &lt;campaign&gt;`."
NEEDS_PHONE: Final = ("`add` needs a campaign and a phone number: "
                      "`/dialer add &lt;campaign&gt; &lt;phone&gt; [name]` (or share a CSV "
                      "file with the message `add &lt;campaign&gt;`).")
NEEDS_AGENT: Final = ("`agent` needs a campaign and an agent: "
                      "`/dialer agent &lt;campaign&gt; &lt;agent&gt;`.")
AGENT_SET: Final = "{user} set the agent of *{campaign}* to *{agent}* (was {before})."
UNKNOWN_AGENT: Final = "There is no agent `{key}`. Agents: {names}."
UNBALANCED_QUOTE: Final = "A quote is not closed."
TOO_LONG: Final = "That command is too long."

# --- authorisation ---------------------------------------------------------------------
NOT_OPERATOR: Final = ("Only dialer operators can {action}. Ask an admin to add you to "
                       "DIALER_SLACK_OPERATORS.")
WRONG_CHANNEL: Final = "Changes are only allowed in the dialer's channels ({channels})."

# --- errors ----------------------------------------------------------------------------
UNKNOWN_CAMPAIGN: Final = "There is no campaign `{key}`."
DID_YOU_MEAN: Final = " Did you mean {names}?"
NO_CAMPAIGNS: Final = "There are no campaigns yet."
ILLEGAL_CHANGE: Final = "*{name}* is {current}; it cannot be {target}."
BAD_PHONE: Final = "Nothing was added: `{raw}` is not a usable phone number ({reason})."
BAD_INPUT: Final = "Nothing was changed: {reason}."
INTERNAL_ERROR: Final = "Something went wrong on our side; it has been logged."

# --- results ---------------------------------------------------------------------------
CAMPAIGNS_TITLE: Final = "Campaigns"
CAMPAIGN_LINE: Final = "*{name}* (#{id}) – {status} · {contacts} contacts · {numbers} numbers"
MORE_CAMPAIGNS: Final = "…and {n} more."
STATUS_TITLE: Final = "Campaign {name}"
STATUS_LINE: Final = "Status: *{status}* · timezone {timezone} · {contacts} contacts"
STATUS_COUNTS: Final = "{status}: {count}"
STATUS_NUMBERS: Final = "Numbers: {numbers}"
NO_NUMBERS: Final = "no caller-ID numbers assigned"
PAUSE_BUTTON: Final = "Pause"
RESUME_BUTTON: Final = "Resume"
CANCEL_CONFIRM_BUTTON: Final = "Yes, cancel it"
CANCEL_KEEP_BUTTON: Final = "No, keep it"
CANCEL_QUESTION: Final = ("Cancel *{name}*? Cancelling is final: the campaign stops and "
                          "cannot be resumed.")
CANCEL_KEPT: Final = "Kept *{name}* as it was ({status})."
CHANGED: Final = "{user} set *{name}* to *{after}* (was {before})."
UNCHANGED: Final = "*{name}* is already {status}."
ADDED: Final = "{user} added {phone}{name} to *{campaign}*."
ALREADY_IN: Final = "{phone} is already in *{campaign}*; nothing was added."
DASHBOARD_TITLE: Final = "Dashboard: {name}"
QUICK_STATS: Final = ("Calls: *{calls}* · conversations: *{conversations}* · "
                      "answer rate: *{answer_rate}* · goal achievement: *{goal_rate}* · "
                      "average conversation: *{avg}*")
STATUS_BREAKDOWN: Final = "*Contacts by status*"
ANSWER_RATES: Final = "*Answer rates*"
GOAL_RESULTS: Final = "*Primary goal results*"
HEATMAP_TITLE: Final = "Human answers by weekday and hour ({timezone})"
HEATMAP_COMMENT: Final = "Heatmap of human answers for *{name}*"
HEATMAP_FAILED: Final = "The heatmap could not be uploaded ({reason})."
NUMBERS_TITLE: Final = "Numbers of {name}"
NUMBER_LINE: Final = ("{e164}{friendly} – {status} · today {today}/{cap} · total {total} · "
                      "spam {spam} ({band}){excluded}")
NUMBER_EXCLUDED: Final = " · excluded: {reason}"
WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
NOT_AVAILABLE: Final = "n/a"

# --- imports ---------------------------------------------------------------------------
IMPORT_STARTED: Final = "Importing `{filename}` into *{campaign}* ({size} bytes)…"
IMPORT_PROGRESS: Final = "Importing `{filename}`: {processed} of {total} rows read…"
IMPORT_DONE: Final = ("Import of `{filename}` into *{campaign}* finished: {inserted} added, "
                      "{duplicates} duplicates, {errors} rows with errors.")
IMPORT_FAILED: Final = "Import of `{filename}` failed: {reason}. Nothing was added."
IMPORT_ERRORS_TITLE: Final = "*Rows that were skipped*"
IMPORT_ERROR_LINE: Final = "line {line}: {reason}"
IMPORT_MORE_ERRORS: Final = "…and {n} more."
IMPORT_NO_FILE: Final = ("Attach a CSV file to the message `add &lt;campaign&gt;` to import "
                         "it.")
IMPORT_NOT_CSV: Final = "`{filename}` is not a CSV file; only CSV files can be imported."
IMPORT_TOO_LARGE: Final = "`{filename}` is larger than the {limit} MB import limit."
IMPORT_DOWNLOAD_FAILED: Final = "Could not download `{filename}` from Slack ({reason})."

# --- alerts ----------------------------------------------------------------------------
ALERT_NUMBER_EXCLUDED: Final = ":no_entry: Number {number} was excluded automatically: {reason}"
ALERT_CAMPAIGN_COMPLETED: Final = ":checkered_flag: Campaign *{campaign}* completed."
ALERT_TRUNK_FAILING: Final = ":rotating_light: Trunk failing{campaign_part}: {reason}"
ALERT_TRUNK_RECOVERED: Final = ":white_check_mark: Trunk back{campaign_part}: {reason}"
ALERT_DIALER_DEGRADED: Final = ":warning: Dialling held{campaign_part}: {reason}"
ALERT_DIALER_RECOVERED: Final = ":white_check_mark: Dialling resumed{campaign_part}: {reason}"
ALERT_DATABASE_DOWN: Final = ":rotating_light: The dialer's database is down: {reason}"
ALERT_DATABASE_BACK: Final = ":white_check_mark: The dialer's database is back: {reason}"
ALERT_AUTO_PAUSE: Final = (":double_vertical_bar: Campaign"
                           " *{campaign}* was paused automatically: {reason}")
ALERT_IN_CAMPAIGN: Final = " for *{campaign}*"
ALERT_NO_REASON: Final = "no reason given"

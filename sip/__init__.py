"""SIP through pjsua2: the engine, trunks, outcomes and the simulated trunk.

- ``sip.types``: what crosses the boundary (``DialRequest``, ``TrunkConfig``,
  ``CallEvent``, ``CallOutcome``, errors). No pjsua2.
- ``sip.outcomes``: SIP final response → ``AnswerStatus``, one pure table.
- ``sip.pacing``: the call-setup token bucket (pure).
- ``sip.engine``: ``SipEngine``, the only module that imports pjsua2; one per process.
- ``sip.calling``: ``place_call``: dial, AMD from the 200 OK, hang up on the verdict.
- ``sip.simtrunk``: the simulated trunk (a UAS driven by per-number scenarios).
"""

"""SIP through pjsua2: the engine, trunks, outcomes and the simulated trunk.

Not built yet: see the SIP issue. Only one module in this package will import pjsua2.
"""

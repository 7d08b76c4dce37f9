"""Write the SIPp UAS scenarios used by the SIP integration tests.

Run ``python tests/integration/sip/scenarios/make_scenarios.py`` after editing; the XML
files are committed so the tests need nothing but ``sipp``.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
PCAP = "/usr/share/sip-tester/g711a.pcap"

REJECT_CODES = {
    486: "Busy Here", 600: "Busy Everywhere", 603: "Decline", 480: "Temporarily Unavailable",
    408: "Request Timeout", 404: "Not Found", 484: "Address Incomplete", 410: "Gone",
    604: "Does Not Exist Anywhere", 403: "Forbidden", 503: "Service Unavailable",
    500: "Server Internal Error",
}

TAG = ";tag=[pid]SIPpTag01[call_number]"


def head(name: str) -> str:
    return (f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
            f'<!DOCTYPE scenario SYSTEM "sipp.dtd">\n<scenario name="{name}">\n')


def response(code: int, reason: str, *, sdp: str = "", extra: str = "", tag: bool = True,
             retrans: bool = False, cseq: str = "[last_CSeq:]") -> str:
    body = sdp_body(sdp) if sdp else ""
    ctype = "Content-Type: application/sdp\n" if sdp else ""
    length = "[len]" if sdp else "0"
    contact = "Contact: <sip:[local_ip]:[local_port];transport=[transport]>\n"
    attr = ' retrans="500"' if retrans else ""
    return (f"  <send{attr}><![CDATA[\n"
            f"SIP/2.0 {code} {reason}\n[last_Via:]\n[last_From:]\n"
            f"[last_To:]{TAG if tag else ''}\n[last_Call-ID:]\n{cseq}\n"
            f"{contact}{extra}{ctype}Content-Length: {length}\n\n{body}]]></send>\n")


def sdp_body(direction: str) -> str:
    return ("v=0\no=sipp 53655765 2353687637 IN IP[local_ip_type] [local_ip]\ns=-\n"
            "c=IN IP[media_ip_type] [media_ip]\nt=0 0\n"
            "m=audio [media_port] RTP/AVP 8 0\na=rtpmap:8 PCMA/8000\n"
            f"a=rtpmap:0 PCMU/8000\na={direction}\n")


RECV = '  <recv request="INVITE"/>\n'
RECV_INVITE = ('  <recv request="INVITE" rrs="true">\n    <action>\n'
               '      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>\n'
               '    </action>\n  </recv>\n')


def in_dialog(method: str, cseq: int, *, sdp: str = "") -> str:
    """A request the UAS sends inside the dialog (BYE, re-INVITE)."""
    body = sdp_body(sdp) if sdp else ""
    ctype = "Content-Type: application/sdp\n" if sdp else ""
    length = "[len]" if sdp else "0"
    return ('  <send retrans="500"><![CDATA[\n'
            f"{method} [next_url] SIP/2.0\n"
            "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
            f"From: <sip:callee@[local_ip]:[local_port]>{TAG}\n"
            "To: [$remote_from]\nCall-ID: [call_id]\n"
            f"CSeq: {cseq} {method}\n"
            "Contact: <sip:callee@[local_ip]:[local_port];transport=[transport]>\n"
            f"Max-Forwards: 70\n{ctype}Content-Length: {length}\n\n{body}]]></send>\n")


def ack(cseq: int) -> str:
    return ('  <send><![CDATA[\n'
            "ACK [next_url] SIP/2.0\n"
            "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
            f"From: <sip:callee@[local_ip]:[local_port]>{TAG}\n"
            "To: [$remote_from]\nCall-ID: [call_id]\n"
            f"CSeq: {cseq} ACK\nMax-Forwards: 70\nContent-Length: 0\n\n]]></send>\n")


def answer() -> str:
    return (response(100, "Trying", tag=False) + response(180, "Ringing")
            + response(200, "OK", sdp="sendrecv", retrans=True)
            + '  <recv request="ACK" crlf="true"/>\n')


PLAY = f'  <nop><action><exec play_pcap_audio="{PCAP}"/></action></nop>\n'
WAIT_BYE = '  <recv request="BYE"/>\n' + response(200, "OK", tag=False)
SEND_BYE = '  <recv response="200"/>\n'
END = "</scenario>\n"


def write(name: str, text: str) -> None:
    (HERE / f"{name}.xml").write_text(text, encoding="ascii")


def main() -> None:
    for code, reason in REJECT_CODES.items():
        write(f"reject_{code}", head(f"reject {code}") + RECV
              + response(100, "Trying", tag=False) + response(180, "Ringing")
              + response(code, reason) + '  <recv request="ACK"/>\n' + END)

    cancel = ('  <recv request="CANCEL">\n    <action>\n'
              '      <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" '
              'assign_to="invite_cseq"/>\n    </action>\n  </recv>\n'
              + response(200, "OK")
              + response(487, "Request Terminated", cseq="CSeq: [$invite_cseq] INVITE")
              + '  <recv request="ACK"/>\n')
    write("ring_no_answer", head("ring, then our CANCEL") + RECV
          + response(100, "Trying", tag=False) + response(180, "Ringing") + cancel + END)
    write("early_media_no_answer", head("183 with SDP and audio, never answered")
          + RECV + response(100, "Trying", tag=False)
          + response(183, "Session Progress", sdp="sendrecv") + PLAY + cancel + END)
    write("early_media_then_answer", head("183 with audio for 1.5 s, then 200 OK")
          + RECV + response(100, "Trying", tag=False)
          + response(183, "Session Progress", sdp="sendrecv") + PLAY
          + '  <pause milliseconds="1500"/>\n'
          + response(200, "OK", sdp="sendrecv", retrans=True)
          + '  <recv request="ACK" crlf="true"/>\n' + WAIT_BYE + END)

    write("answer_audio", head("answer and send audio; we hang up") + RECV
          + answer() + PLAY + WAIT_BYE + END)
    write("answer_silent", head("answer, send no RTP; we hang up") + RECV
          + answer() + WAIT_BYE + END)
    write("callee_bye", head("answer with audio, callee hangs up after 1 s") + RECV_INVITE
          + answer() + PLAY + '  <pause milliseconds="1000"/>\n' + in_dialog("BYE", 1)
          + SEND_BYE + END)
    write("rtp_stops", head("answer, audio stops, no BYE from us until RTP timeout")
          + RECV + answer() + PLAY + WAIT_BYE + END)
    write("hold_reinvite", head("answer, then put us on hold (a=sendonly) without RTP")
          + RECV_INVITE + answer() + '  <pause milliseconds="200"/>\n'
          + in_dialog("INVITE", 1, sdp="sendonly") + '  <recv response="100" optional="true"/>\n'
          + '  <recv response="200"/>\n' + ack(1) + WAIT_BYE + END)

    # SIPp's verifyauth reads only the Authorization header (401); for the 407 we check
    # that Proxy-Authorization carries our user and a digest response.
    proxy_auth = ('  <recv request="INVITE">\n    <action>\n'
                  '      <ereg regexp="Digest .*username=&quot;trunkuser&quot;.*'
                  'response=&quot;[0-9a-f]{32}&quot;" search_in="hdr" '
                  'header="Proxy-Authorization:" check_it="true" assign_to="proxy_auth"/>\n'
                  '    </action>\n  </recv>\n')
    write("auth_407", head("407 challenge, then answer the authenticated INVITE")
          + '  <recv request="INVITE"/>\n'
          + response(407, "Proxy Authentication Required",
                     extra='Proxy-Authenticate: Digest realm="sipp.test", '
                           'nonce="4f2a1b9c8d7e", algorithm=MD5\n')
          + '  <recv request="ACK"/>\n' + proxy_auth
          + response(100, "Trying", tag=False)
          + response(200, "OK", sdp="sendrecv", retrans=True,
                     extra="X-Seen-Auth: [$proxy_auth]\n")
          + '  <recv request="ACK" crlf="true"/>\n' + WAIT_BYE + END)
    auth = ('  <recv request="INVITE">\n    <action>\n'
            '      <verifyauth assign_to="authvalid" username="trunkuser" password="s3cret"/>\n'
            '    </action>\n  </recv>\n'
            '  <nop hide="true" test="authvalid" next="goodauth"/>\n'
            + response(403, "Forbidden") + '  <recv request="ACK" next="done"/>\n'
            + '  <label id="goodauth"/>\n')
    write("auth_401", head("401 challenge, then answer if the password is right")
          + '  <recv request="INVITE"/>\n'
          + response(401, "Unauthorized",
                     extra='WWW-Authenticate: Digest realm="sipp.test", '
                           'nonce="4f2a1b9c8d7e", algorithm=MD5\n')
          + '  <recv request="ACK"/>\n' + auth
          + response(100, "Trying", tag=False) + response(200, "OK", sdp="sendrecv",
                                                           retrans=True)
          + '  <recv request="ACK" crlf="true"/>\n' + WAIT_BYE
          + '  <label id="done"/>\n' + END)

    register = (
        '  <recv request="REGISTER" optional="true" next="register"/>\n'
        + RECV + answer() + WAIT_BYE + '  <nop hide="true" next="regdone"/>\n'
        '  <label id="register"/>\n'
        + response(401, "Unauthorized", extra='WWW-Authenticate: Digest realm="sipp.test", '
                                             'nonce="93ba1c3e1f2d", algorithm=MD5\n')
        + '  <recv request="REGISTER">\n    <action>\n'
        '      <verifyauth assign_to="regvalid" username="trunkuser" password="s3cret"/>\n'
        '    </action>\n  </recv>\n'
        '  <nop hide="true" test="regvalid" next="regok"/>\n'
        + response(403, "Forbidden") + '  <nop hide="true" next="regdone"/>\n'
        + '  <label id="regok"/>\n'
        + response(200, "OK", extra="Expires: 300\n[last_Contact:];expires=300\n")
        + '  <recv request="REGISTER"/>\n'
        + response(200, "OK", extra="Expires: 0\n")
        + '  <label id="regdone"/>\n')
    write("registrar", head("registrar with digest auth; or a call after it") + register
          + END)
    checks = (
        '      <ereg regexp="\\+12025550199@" search_in="hdr" header="From:" '
        'check_it="true" assign_to="from_ok"/>\n'
        '      <ereg regexp="sip:\\+12025550199@" search_in="hdr" '
        'header="P-Asserted-Identity:" check_it="true" assign_to="pai_ok"/>\n'
        '      <ereg regexp="^ *42$" search_in="hdr" header="X-Campaign:" check_it="true" '
        'assign_to="campaign_ok"/>\n'
        '      <ereg regexp="PCMU" search_in="body" check_it="true" assign_to="pcmu_ok"/>\n')
    write("headers_busy", head("check caller ID, PAI, an extra header and PCMU; then 486")
          + '  <recv request="INVITE">\n    <action>\n' + checks + '    </action>\n  </recv>\n'
          + response(486, "Busy Here",
                     extra="X-Checked: [$from_ok] [$pai_ok] [$campaign_ok] [$pcmu_ok]\n")
          + '  <recv request="ACK"/>\n' + END)
    write("answer_audio_tcp", head("answer over TCP with audio; we hang up") + RECV
          + answer() + PLAY + WAIT_BYE + END)


if __name__ == "__main__":
    main()

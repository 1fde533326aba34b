"""A real SMTP server (aiosmtpd) for the platform's email tests.

Usage: smtp_server.py OUT_DIR [--refuse-first N] [--user U --password P] [--reject PREFIX]

Listens on a free port of 127.0.0.1 and prints the port on the first line of stdout. Every
message accepted is written to OUT_DIR/<n>.json: envelope, subject, plain text, attachments
and the raw message. The first N messages get a temporary refusal (451) at DATA; recipients
starting with PREFIX get a permanent one (550). With --user/--password, AUTH is required.
Runs until stdin closes (the test that started it ends).
"""

import argparse
import email
import email.policy
import json
import os
import socket
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Handler:
    def __init__(self, out, refuse_first, reject):
        self.out = out
        self.refuse_left = refuse_first
        self.reject = reject
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject and address.startswith(self.reject):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_left > 0:
            self.refuse_left -= 1
            return "451 4.3.0 Temporarily refusing, as the test asked"
        raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        text = ""
        attachments = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            if part.get_content_disposition() == "attachment":
                attachments.append({
                    "filename": part.get_filename(),
                    "content_type": part.get_content_type(),
                    "content": part.get_payload(decode=True).decode("utf-8"),
                })
            elif part.get_content_type() == "text/plain":
                text += part.get_content()
        self.count += 1
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "text": text,
            "attachments": attachments,
            "raw": raw.decode("utf-8", "replace"),
            "authenticated": bool(session.authenticated),
        }
        path = os.path.join(self.out, f"{self.count}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 OK"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--refuse-first", type=int, default=0)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--reject")
    args = parser.parse_args()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    kwargs = {}
    if args.user:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (auth_data.login == args.user.encode()
                  and auth_data.password == args.password.encode())
            return AuthResult(success=ok)
        kwargs = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False)

    controller = Controller(Handler(args.out, args.refuse_first, args.reject),
                            hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print(port, flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

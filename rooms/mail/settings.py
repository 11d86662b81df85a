"""Where e-mail goes (SMTP_HOST, SMTP_PORT, SMTP_FROM) and how the outbox is drained; read once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from rooms.envvars import env_float, env_int


@dataclass(frozen=True)
class MailSettings:
    smtp_host: str = ""                  # none: e-mails wait in the outbox, unsent
    smtp_port: int = 25
    smtp_from: str = "convene@localhost"
    outbox_claim_s: float = 60.0         # a claimed e-mail not sent by then is claimed again
    outbox_max_attempts: int = 5
    interval_s: float = 5.0              # how often each process drains the outbox

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "MailSettings":
        env = os.environ if env is None else env
        return cls(smtp_host=env.get("SMTP_HOST", ""), smtp_port=env_int(env, "SMTP_PORT", cls.smtp_port),
                   smtp_from=env.get("SMTP_FROM") or cls.smtp_from,
                   outbox_claim_s=env_float(env, "OUTBOX_CLAIM_S", cls.outbox_claim_s),
                   interval_s=env_float(env, "EMERGENCY_JOB_INTERVAL_S", cls.interval_s))

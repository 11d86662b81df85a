"""Settings of notifications, read from the environment once at start-up (README table, docs/notifications.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from rooms.envvars import env_float, env_int, env_list
from rooms.notifications.models import EmailTiming

# The browsers' push services (Chrome/Edge via FCM, Firefox, Safari, Windows). The server POSTs to a
# URL the client chose, so only these hosts are accepted: anything else would make the push sender a
# request forger for the internal network. "*." allows the subdomains of a host.
DEFAULT_PUSH_ORIGINS = ("https://fcm.googleapis.com", "https://android.googleapis.com",
                        "https://updates.push.services.mozilla.com", "https://web.push.apple.com",
                        "https://*.notify.windows.com", "https://*.push.apple.com")
DEFAULT_EMAIL_DELAYS = {EmailTiming.NOW: 120.0, EmailTiming.QUARTER: 900.0, EmailTiming.HOURLY: 3600.0,
                        EmailTiming.DAILY: 86400.0}


@dataclass(frozen=True)
class NotificationSettings:
    public_url: str = "http://127.0.0.1:8000"   # links in e-mails and pushes start with this
    sweep_s: float = 5.0                   # how often each process looks for rooms the notifier is behind on
    job_interval_s: float = 1.0            # push and e-mail jobs look for work this often (and when poked)
    job_idle_max_s: float = 5.0            # ...and, after passes that found nothing, at most this seldom
    page: int = 200                        # events the notifier takes from a room at a time
    # After a commit pokes the notifier, it waits this long for more before its pass: one pass then
    # takes every room that changed meanwhile (a busy server's notifier costs per pass, not per message).
    gather_s: float = 0.1
    email_delays: tuple[tuple[EmailTiming, float], ...] = tuple(DEFAULT_EMAIL_DELAYS.items())
    push_allowed_origins: tuple[str, ...] = DEFAULT_PUSH_ORIGINS
    vapid_private_key: str = ""            # PEM or base64url; none: generated once into the data folder
    vapid_subject: str = "mailto:convene@localhost"
    push_claim_s: float = 60.0             # a claimed push not sent by then is claimed again
    push_ttl_s: int = 24 * 3600            # how long the push service keeps an undelivered push
    push_max_attempts: int = 8
    # A push service that has not answered by then has failed this attempt. Well below push_claim_s, or
    # another process takes the job while this one still waits, and the push may go twice.
    push_timeout_s: float = 10.0
    push_retry_s: float = 5.0              # a failed push is retried after this, then twice as long each time (≤ 1 h)
    inbound_host: str = "0.0.0.0"
    inbound_port: int = 2525               # INBOUND_SMTP_PORT: the reply-by-e-mail receiver
    inbound_domain: str = "localhost"      # reply addresses are reply+<token>@<this>
    inbound_max_bytes: int = 256 * 1024
    reply_token_max_age_s: float = 30 * 24 * 3600
    verify_max_age_s: float = 7 * 24 * 3600
    # Tests only: "push.claimed:kill" makes a process SIGKILL itself after claiming a push job and
    # before sending it. Unset in production, where it does nothing.
    fault: str = ""

    def email_delay(self, timing: EmailTiming) -> float:
        return dict(self.email_delays).get(timing, DEFAULT_EMAIL_DELAYS[timing])

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "NotificationSettings":
        env = os.environ if env is None else env
        delays = dict(DEFAULT_EMAIL_DELAYS)
        for item in env_list(env, "NOTIFY_EMAIL_DELAYS_S"):     # now=120,15min=900,hourly=3600,daily=86400
            name, _, value = item.partition("=")
            delays[EmailTiming(name.strip())] = float(value)
        smtp_from = env.get("SMTP_FROM") or "convene@localhost"
        return cls(
            public_url=(env.get("PUBLIC_URL") or f"http://127.0.0.1:{env.get('PORT') or 8000}").rstrip("/"),
            sweep_s=env_float(env, "NOTIFY_SWEEP_S", cls.sweep_s),
            job_interval_s=env_float(env, "NOTIFY_JOB_INTERVAL_S", cls.job_interval_s),
            job_idle_max_s=env_float(env, "NOTIFY_JOB_IDLE_MAX_S", cls.job_idle_max_s),
            gather_s=env_float(env, "NOTIFY_GATHER_S", cls.gather_s),
            email_delays=tuple(delays.items()),
            push_allowed_origins=env_list(env, "PUSH_ALLOWED_ORIGINS") or DEFAULT_PUSH_ORIGINS,
            vapid_private_key=env.get("VAPID_PRIVATE_KEY", ""),
            vapid_subject=env.get("VAPID_SUBJECT") or f"mailto:{smtp_from}",
            push_claim_s=env_float(env, "PUSH_CLAIM_S", cls.push_claim_s),
            push_ttl_s=env_int(env, "PUSH_TTL_S", cls.push_ttl_s),
            push_timeout_s=env_float(env, "PUSH_TIMEOUT_S", cls.push_timeout_s),
            push_retry_s=env_float(env, "PUSH_RETRY_S", cls.push_retry_s),
            inbound_host=env.get("INBOUND_SMTP_HOST") or cls.inbound_host,
            inbound_port=env_int(env, "INBOUND_SMTP_PORT", cls.inbound_port),
            inbound_domain=env.get("INBOUND_MAIL_DOMAIN") or cls.inbound_domain,
            inbound_max_bytes=env_int(env, "INBOUND_MAX_BYTES", cls.inbound_max_bytes),
            reply_token_max_age_s=env_float(env, "REPLY_TOKEN_MAX_AGE_S", cls.reply_token_max_age_s),
            fault=env.get("CONVENE_TEST_FAULT", ""),
        )

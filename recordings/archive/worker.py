"""Runs archive jobs in this process's turn: claims one with a lease, runs its media work in a child
process (recordings/archive/process.py), keeps the lease alive while it runs, stores the results and
completes the job — or, having lost the lease, stops and leaves the job to its new owner."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import socket
import sys
from dataclasses import asdict
from pathlib import Path

from recordings.archive.models import Job, Recording, SourceKind
from recordings.archive.process import OUTPUTS, Spec
from recordings.archive.settings import RecordingSettings
from recordings.archive.store import ArchiveStores
from recordings.storage import MediaStorage
from rooms.errors import StoreUnavailable

log = logging.getLogger(__name__)


def media_key(recording_id: int, name: str) -> str:
    return f"recordings/{recording_id}/{name}"


class JobWorker:
    def __init__(self, stores: ArchiveStores, storage: MediaStorage, settings: RecordingSettings,
                 work_dir: Path) -> None:
        self.stores = stores
        self.storage = storage
        self.settings = settings
        self.work_dir = work_dir
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A job was just queued here: look now rather than at the next poll."""
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                while await self.run_one():
                    pass
            except StoreUnavailable:
                pass
            except Exception:
                log.exception("recording job worker failed; trying again at the next poll")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.job_poll_s)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def run_one(self) -> bool:
        """Claims and runs one job; False when there was none to claim."""
        job = await self.stores.jobs.claim(self.owner, self.settings.job_lease_s, self.settings.job_max_attempts)
        if job is None:
            return False
        recording = await self.stores.catalogue.get(job.recording_id)
        if recording is None:
            return True
        log.info("recording %s: job %s attempt %s claimed by %s", recording.id, job.id, job.attempts, self.owner)
        out_dir = self.work_dir / f"job-{job.id}-{job.attempts}"
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(parents=True)
        try:
            await self._run(job, recording, out_dir)
        except (OSError, ValueError) as error:
            # The source is gone or unreadable from here (storage not shared with the process that
            # queued it?): a failure the host sees, rather than a job retried until it runs out of attempts.
            await self.stores.jobs.fail(job.id, self.owner, f"cannot read the source: {error}")
            log.warning("recording %s: job %s failed: %s", recording.id, job.id, error)
        except asyncio.CancelledError:
            # Shutting down: hand the job back at once instead of waiting for the lease to lapse.
            await asyncio.shield(self.stores.jobs.release(job.id, self.owner))
            raise
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
        return True

    async def _run(self, job: Job, recording: Recording, out_dir: Path) -> None:
        source = await asyncio.to_thread(self._source_path, recording, out_dir)
        spec = Spec(source_kind=recording.source_kind.value, source=str(source), out_dir=str(out_dir),
                    step_delay_s=self.settings.job_step_delay_s, opus_bit_rate=self.settings.opus_bit_rate)
        spec_path = out_dir / "spec.json"
        spec_path.write_text(json.dumps(asdict(spec)))
        with open(out_dir / "stderr.log", "wb") as errors:
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "recordings.archive.process", str(spec_path),
                stdout=asyncio.subprocess.PIPE, stderr=errors, stdin=asyncio.subprocess.DEVNULL)
        state = {"progress": 0.0, "result": None, "error": None, "lost": False}
        keeper = asyncio.create_task(self._keep_lease(job, child, state))
        try:
            assert child.stdout is not None
            async for line in child.stdout:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if isinstance(message, dict):
                    state["progress"] = float(message.get("progress", state["progress"]))
                    state["result"] = message.get("result", state["result"])
                    state["error"] = message.get("error", state["error"])
            code = await child.wait()
        except asyncio.CancelledError:
            if child.returncode is None:
                child.kill()
                await child.wait()
            raise
        finally:
            keeper.cancel()
        if state["lost"]:
            log.warning("recording %s: lease lost, job %s left to its new owner", recording.id, job.id)
            return
        if code != 0 or not isinstance(state["result"], dict):
            error = state["error"] or f"the media worker exited with status {code}"
            await self.stores.jobs.fail(job.id, self.owner, str(error))
            log.warning("recording %s: job %s failed: %s", recording.id, job.id, error)
            return
        if not await self.stores.jobs.renew(job.id, self.owner, self.settings.job_lease_s, 1.0):
            return
        await asyncio.to_thread(self._publish, recording.id, out_dir)
        result = state["result"]
        if await self.stores.jobs.complete(job.id, self.owner, result.get("duration_s"),
                                           bool(result.get("has_video"))):
            log.info("recording %s: job %s completed (attempt %s)", recording.id, job.id, job.attempts)

    async def _keep_lease(self, job: Job, child: asyncio.subprocess.Process, state: dict) -> None:
        while True:
            await asyncio.sleep(self.settings.job_lease_s / 3)
            try:
                held = await self.stores.jobs.renew(job.id, self.owner, self.settings.job_lease_s,
                                                    min(0.99, state["progress"]))
            except StoreUnavailable:
                continue   # the lease may lapse; renew() answers False afterwards if someone took over
            if not held:
                state["lost"] = True
                if child.returncode is None:
                    child.kill()
                return

    def _source_path(self, recording: Recording, out_dir: Path) -> Path:
        if recording.source_kind is SourceKind.LIVE:
            live = Path(recording.source)
            if not any((live / rendition / "index.m3u8").exists() for rendition in ("video", "audio")):
                raise FileNotFoundError(f"the live directory {live} holds no recording")
            return live
        local = self.storage.local_path(recording.source)
        if local is not None:
            return local
        target = out_dir / "source"   # an adapter without local files: download the upload first
        with self.storage.open(recording.source) as data, open(target, "wb") as out:
            shutil.copyfileobj(data, out, 1024 * 1024)
        return target

    def _publish(self, recording_id: int, out_dir: Path) -> None:
        """Copies the job's files into storage and removes what an earlier attempt left and this one did not."""
        written = set()
        names = [name for name in OUTPUTS if (out_dir / name).exists()]
        names += [str(p.relative_to(out_dir)) for p in sorted((out_dir / "hls").rglob("*")) if p.is_file()]
        for name in names:
            self.storage.put_file(media_key(recording_id, name), out_dir / name)
            written.add(media_key(recording_id, name))
        for info in list(self.storage.list(f"recordings/{recording_id}")):
            if info.key not in written and "/captions/" not in info.key:
                self.storage.delete(info.key)

"""The daemon's signal inbox: a stop signal nobody reads any more is dropped, not re-raised.

trio's own receiver re-raises unread signals when it closes, with the default handler back;
the loop watchdog's repeated SIGTERM during a clean drain then ended the process with -15.
Each case runs in its own interpreter: the handlers are process-wide and stay installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from .conftest import REPO

PROGRAM = textwrap.dedent("""
    import os, signal, sys
    import trio
    from yuqingd.signal_inbox import SignalInbox

    stops = []

    async def main():
        inbox = SignalInbox((signal.SIGHUP, signal.SIGTERM), on_stop=lambda frame: stops.append(1))
        inbox.install()
        os.kill(os.getpid(), signal.SIGHUP)
        os.kill(os.getpid(), signal.SIGTERM)
        first = [await inbox.received.receive(), await inbox.received.receive()]
        print("received", [signal.Signals(s).name for s in first], flush=True)
        # The stop is under way: repeats (the watchdog's, or an impatient operator's) are
        # dropped, both while the loop still runs and queued callbacks are pending...
        inbox.close()
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(50):  # let the queued deliveries run
            await trio.lowlevel.checkpoint()

    trio.run(main)
    # ...and after the run has finished.
    os.kill(os.getpid(), signal.SIGTERM)
    print("stop hook calls", len(stops), flush=True)
    print("exited normally", flush=True)
""")


def test_signals_after_the_stop_do_not_end_the_drained_process():
    done = subprocess.run([sys.executable, "-c", PROGRAM], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, (done.returncode, done.stderr)
    lines = done.stdout.splitlines()
    assert lines[0] == "received ['SIGHUP', 'SIGTERM']"
    # The watchdog hears every stop signal, the dropped ones too: it may still have to
    # interrupt a plugin that blocks the loop.
    assert lines[1] == "stop hook calls 4"
    assert lines[2] == "exited normally"


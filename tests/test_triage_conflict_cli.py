"""A scripted triage (no terminal) whose step a colleague saves first: the plain refusal, exit 3, nothing lost.

The DNS step is made slow (a loopback DNS server answering after a delay), and while its checks run
the test saves that step as a colleague on another machine would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from support_dnsserver import DnsTestServer
from support_prompter import COMPLETE_ANSWERS, PARTNER

from threer.store import Store

ZONE = Path(__file__).parent / "zones" / "t-triage.zone"


def test_a_scripted_run_stops_with_who_changed_the_step_and_keeps_its_answer(tmp_path, threer_env):
    answers = {"partner": PARTNER, **COMPLETE_ANSWERS,
               "intake.customer": {"name": "Contoso Ltd", "domain": "contoso-triage.test"}}
    (tmp_path / "a.json").write_text(json.dumps(answers), encoding="utf-8")
    with DnsTestServer(zone_files=[ZONE], delay=1.0) as server:
        host, port = server.address
        run = subprocess.Popen(
            [sys.executable, "-m", "threer", "triage", "--no-input", "--answers", str(tmp_path / "a.json"),
             "--profile", "none", "--dns-only", "--dns-timeout", "20", "--nameserver", f"{host}:{port}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
        session_id = None
        deadline = time.monotonic() + 60
        while session_id is None and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.02)
            if not threer_env.db_path.exists():
                continue
            with Store(threer_env.db_path) as store:
                for row in store.list_sessions():
                    if "replicate.services" in store.answers(row["id"]):  # the DNS checks are running now
                        session_id = row["id"]
                        store.record_answer(session_id, "review.dns",
                                            {"status": "answered", "answer": {"note": "bob checked it by hand"}},
                                            datetime.now(timezone.utc), expected_revision=0, technician="bob",
                                            host="laptop-7")
        out, err = run.communicate(timeout=120)
    assert session_id is not None, err
    assert run.returncode == 3, err
    said = " ".join(err.split())
    assert "Error: bob (on laptop-7) changed the answer to review.dns at " in said, err
    assert f"`threer sessions show {session_id}` to compare" in said
    assert f"threer triage --resume {session_id} --change review.dns" in said
    assert "Traceback" not in err
    with Store(threer_env.db_path) as store:
        now = store.answer_details(session_id)["review.dns"]
        assert now["recorded_by"] == "bob" and now["data"]["answer"]["note"] == "bob checked it by hand"
        refused = [h for h in store.answer_history(session_id) if h["step_id"] == "review.dns"]
        assert len(refused) == 1 and refused[0]["superseded"] and refused[0]["data"]["answer"]["checked"] is True
        assert "review.owa" not in store.answers(session_id)  # the run stopped there

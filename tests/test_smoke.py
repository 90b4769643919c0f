import subprocess
import sys

from threer import __version__


def test_version(invoke):
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"threer {__version__}"


def test_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "threer", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"threer {__version__}"

"""The pytest plugin: one item per case when enabled, nothing at all otherwise."""

import pytest

from sscard_gateway.conformance import CenterResponder
from sscard_gateway.link import LinkKeys

PLUGIN = "sscard_gateway.conformance.pytest_plugin"


@pytest.fixture
def plugin_args(request):
    # registered through the pytest11 entry point once pyproject names it
    if request.config.pluginmanager.has_plugin("sscard_conformance"):
        return []
    return ["-p", PLUGIN]


def responder(keystore, **options):
    keys = LinkKeys(mac_key="center-110000.zak", pin_key="center-110000.zpk")
    return CenterResponder(security=keystore.hsm, keys=keys, **options)


def test_without_a_peer_the_plugin_adds_nothing(pytester, plugin_args):
    pytester.makepyfile("def test_mine(): pass")
    result = pytester.runpytest_inprocess(*plugin_args, "-W", "error")
    result.assert_outcomes(passed=1)
    assert "sscard-conformance" not in result.stdout.str()
    help_text = pytester.runpytest_inprocess(*plugin_args, "--help").stdout.str()
    assert "--sscard-peer=HOST:PORT" in help_text


def test_one_item_per_case_against_a_conforming_center(
    pytester, plugin_args, keystore, thread_peer
):
    pytester.makepyfile("def test_mine(): pass")
    with thread_peer(responder(keystore)) as port:
        result = pytester.runpytest_inprocess(
            *plugin_args, "-v", "-W", "error",
            "--sscard-peer", f"127.0.0.1:{port}", "--sscard-role", "center",
            *keystore.cli_args("--sscard-"), "--sscard-timeout", "3",
        )  # fmt: skip
    # 6 offline + 7 live cases pass; the key exchange case is skipped (no --sscard-kek)
    result.assert_outcomes(passed=1 + 13, skipped=1)
    result.stdout.fnmatch_lines([
        "*sscard-conformance::center.duplicate PASSED*",
        "*sscard-conformance::center.key-exchange-pin SKIPPED*",
    ])  # fmt: skip


def test_a_failing_case_fails_its_item_with_the_reason(
    pytester, plugin_args, keystore, thread_peer
):
    with thread_peer(responder(keystore, decline_over=None)) as port:
        result = pytester.runpytest_inprocess(
            *plugin_args, "-k", "decline or approve",
            "--sscard-peer", f"127.0.0.1:{port}", "--sscard-role", "center",
            *keystore.cli_args("--sscard-"), "--sscard-timeout", "3",
            "--junitxml", "out.xml",
        )  # fmt: skip
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert (
        "center.decline failed: step 'payout': field 39: expected none of ['00'], got '00'" in out
    )
    assert "payout: <- 0210" in out and "Traceback" not in out
    assert 'name="center.decline"' in (pytester.path / "out.xml").read_text()


def test_a_bad_option_is_a_usage_error(pytester, plugin_args):
    result = pytester.runpytest_inprocess(*plugin_args, "--sscard-peer", "nowhere")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*sscard conformance*HOST:PORT*"])

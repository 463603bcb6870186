"""The pinned-policy layout: names bpffs accepts, instances found, removal tidy."""

from __future__ import annotations

from appliance.bpf.pins import Pinned, PinStore, bpf_root, pin_name


def test_bpf_dir_is_relative_to_bpffs_unless_absolute():
    assert bpf_root("tetragon") == "/sys/fs/bpf/tetragon"
    assert bpf_root("/sys/fs/bpf/x") == "/sys/fs/bpf/x"


def test_pin_names_carry_no_dot_bpffs_refuses():
    assert pin_name("", "lseek") == "lseek"
    assert pin_name("team.a", "block.v2") == "team_a:block_v2"


def test_found_reads_hash_from_instance_name_and_remove_tidies(tmp_path):
    store = PinStore(str(tmp_path / "tetragon"))
    inst = tmp_path / "tetragon" / "policies" / "lseek" / "abc123_42_1"
    (inst / "links").mkdir(parents=True)
    found = store.found()
    assert found == {"lseek": [Pinned("lseek", "abc123", str(inst))]}
    store.remove(found["lseek"][0])
    assert store.found() == {}
    store.remove_root_if_empty()
    assert not (tmp_path / "tetragon").exists()

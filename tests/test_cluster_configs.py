"""The cluster files parse (issue 11, point 8): each accelerate config with accelerate's own
config loader and launch-argument validation, and the SLURM script with bash -n. Running them
needs GPUs (and deepspeed for ZeRO-2): untested here."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import ROOT

CONFIGS = {  # file -> (launcher flag, processes, machines, mixed precision)
    "accelerate_config.yaml": (None, 1, 1, "no"),
    "accelerate_configs/cpu_2proc.yaml": ("multi_gpu", 2, 1, "no"),
    "accelerate_configs/multi_gpu.yaml": ("multi_gpu", 4, 1, "bf16"),
    "accelerate_configs/multi_node.yaml": ("multi_gpu", 8, 2, "bf16"),
    "accelerate_configs/deepspeed_zero2.yaml": ("use_deepspeed", 4, 1, "bf16"),
    "accelerate_configs/fsdp.yaml": ("use_fsdp", 4, 1, "bf16"),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_accelerate_config_parses(name):
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    flag, processes, machines, precision = CONFIGS[name]
    config = load_config_from_file(str(ROOT / name))
    assert (config.num_processes, config.num_machines) == (processes, machines)
    assert config.mixed_precision == precision
    args = launch_command_parser().parse_args(["--config_file", str(ROOT / name), "train.py"])
    args, _, _ = _validate_launch_command(args)
    for f in ("multi_gpu", "use_deepspeed", "use_fsdp"):
        assert bool(getattr(args, f)) == (f == flag), f
    assert args.num_processes == processes and args.mixed_precision == precision
    if flag == "use_deepspeed":
        assert args.zero_stage == 2
    if flag == "use_fsdp":
        assert int(args.fsdp_version) == 2 and args.fsdp_state_dict_type == "FULL_STATE_DICT"


def test_slurm_script():
    script = ROOT / "slurm" / "train_2nodes.sbatch"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "#SBATCH --nodes=2" in text
    for path in re.findall(r"--config_file (\S+)", text) + ["train_ner.py"]:
        assert (ROOT / path).is_file(), path
    assert "--resume_from_checkpoint last" in text

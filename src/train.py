"""Train one experiment, or a grid with -m.

python src/train.py                                   # the course's He run
python src/train.py -m init=zeros,random,he,xavier    # the lecture's grid
python src/train.py --help                            # config groups and their options
"""

import hydra
from omegaconf import DictConfig

from initlab.config import register_configs
from initlab.hydra_job import current_job, fail_cleanly_in_single_runs

register_configs()


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig):  # -> initlab.experiment.Outcome
    from initlab.cli import terminate_like_ctrl_c
    from initlab.experiment import run_job  # numpy/mlflow only once a job really runs

    with terminate_like_ctrl_c(), fail_cleanly_in_single_runs():
        return run_job(cfg, current_job())


if __name__ == "__main__":
    from initlab.cli import run_and_exit

    run_and_exit(main)

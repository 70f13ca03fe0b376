from pathlib import Path

from latent_atlas.config_io import to_jsonable, update_from_dict
from latent_atlas.methods.registry import METHODS, method_config
from latent_atlas.tasks.scene_config import TrainConfig


def test_train_config_round_trips_through_json():
    cfg = TrainConfig(method_name="vanilla-nerf", method=method_config("vanilla-nerf"), data=Path("/x/y"), max_time=5.0)
    cfg.method.optimizers["fields"].lr = 1e-3
    data = to_jsonable(cfg)
    back = update_from_dict(TrainConfig(method_name="vanilla-nerf", method=method_config("vanilla-nerf")), data)
    assert back == cfg
    assert isinstance(back.data, Path) and back.method.model.field.skips == (4,)
    assert METHODS["vanilla-nerf"].optimizers["fields"].lr == 5e-4  # the registry default is untouched

"""save_model: what the written file looks like on disk."""


def test_saved_files_get_ordinary_permissions(tmp_path):
    import os

    from emberlite.schema import Model, save_model

    save_model(Model(), tmp_path / "m.tflite")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "m.tflite").stat().st_mode & 0o777 == 0o666 & ~mask

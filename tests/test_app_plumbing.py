"""tf.app.flags / tf.app.run, tf.logging and tf.gfile."""
import logging

import pytest

import jitflow.compat.v1 as tf
from jitflow.frontend import app


def fresh_flags():
    fv = app.FlagValues()
    app.DEFINE_string("data_dir", "/tmp/data", "where", flag_values=fv)
    app.DEFINE_integer("steps", 100, "how many", lower_bound=1, flag_values=fv)
    app.DEFINE_float("lr", 0.01, "rate", flag_values=fv)
    app.DEFINE_boolean("fake", False, "fake data", flag_values=fv)
    app.DEFINE_list("layers", "64,32", "sizes", flag_values=fv)
    app.DEFINE_enum("opt", "sgd", ["sgd", "adam"], "optimizer", flag_values=fv)
    return fv


def test_flag_parsing_forms_and_rest():
    fv = fresh_flags()
    rest = fv(["prog", "--steps=5", "--lr", "0.5", "--fake", "pos", "--layers=8,4",
               "--opt=adam", "--", "--not-a-flag"])
    assert rest == ["prog", "pos", "--not-a-flag"]
    assert (fv.steps, fv.lr, fv.fake, fv.layers, fv.opt, fv.data_dir) == \
        (5, 0.5, True, ["8", "4"], "adam", "/tmp/data")
    fv(["prog", "--nofake"])
    assert fv.fake is False
    fv.steps = 9
    assert fv.flag_values_dict()["steps"] == 9


@pytest.mark.parametrize("argv, message", [
    (["p", "--stepz=3"], "Unknown command line flag 'stepz'"),
    (["p", "--steps=abc"], r"--steps='abc'.*expected an integer"),
    (["p", "--steps=0"], "outside"),
    (["p", "--opt=rms"], "not one of"),
    (["p", "--lr"], "needs a value"),
])
def test_bad_flags_are_clear_errors(argv, message):
    with pytest.raises(app.FlagError, match=message):
        fresh_flags()(argv)


def test_duplicate_definition_and_tf_namespace():
    fv = fresh_flags()
    with pytest.raises(app.FlagError, match="defined twice"):
        app.DEFINE_string("steps", "x", "", flag_values=fv)
    assert tf.app.flags.FLAGS is tf.flags.FLAGS is app.FLAGS      # one set of flags
    assert tf.flags.DEFINE_integer is tf.app.flags.DEFINE_integer is app.DEFINE_integer


def test_app_run_calls_main_with_rest_and_exits(monkeypatch):
    if "d13_epochs" not in app.FLAGS:
        app.DEFINE_integer("d13_epochs", 1, "epochs")
    got = []

    def main(argv):
        got.append((argv, app.FLAGS.d13_epochs))
        return 3
    with pytest.raises(SystemExit) as e:
        tf.app.run(main=main, argv=["prog", "--d13_epochs=4", "extra"])
    assert e.value.code == 3 and got == [(["prog", "extra"], 4)]
    with pytest.raises(SystemExit) as e:
        tf.app.run(main=main, argv=["prog", "--d13_unknown=1"])
    assert e.value.code == 1


def test_logging_levels_and_verbosity(capsys):
    old = tf.logging.get_verbosity()
    try:
        tf.logging.set_verbosity(tf.logging.WARN)
        tf.logging.info("hidden %d", 1)
        tf.logging.warning("shown %d", 2)
        tf.logging.set_verbosity(tf.logging.INFO)
        tf.logging.info("now %s", "visible")
        err = capsys.readouterr().err
        assert "hidden" not in err
        assert "WARNING:tensorflow:shown 2" in err and "INFO:tensorflow:now visible" in err
        assert tf.logging.get_verbosity() == logging.INFO
        for _ in range(5):
            tf.logging.log_every_n(tf.logging.INFO, "every %d", 2, 7)
        assert capsys.readouterr().err.count("every 7") == 3
    finally:
        tf.logging.set_verbosity(old)


def test_gfile_local_files(tmp_path):
    d = str(tmp_path / "a" / "b")
    tf.gfile.MakeDirs(d)
    assert tf.gfile.IsDirectory(d) and tf.io.gfile.isdir(d)
    p = d + "/f.txt"
    with tf.gfile.GFile(p, "w") as f:
        f.write("line1\nline2\n")
    with tf.gfile.Open(p) as f:
        assert f.read() == "line1\nline2\n"
    with tf.io.gfile.GFile(p, "rb") as f:
        assert f.read() == b"line1\nline2\n"
    assert tf.gfile.Exists(p) and tf.gfile.ListDirectory(d) == ["f.txt"]
    assert tf.gfile.Glob(d + "/*.txt") == [p]
    tf.gfile.Copy(p, d + "/g.txt")
    with pytest.raises(tf.errors.AlreadyExistsError):
        tf.gfile.Rename(p, d + "/g.txt")
    tf.gfile.Rename(p, d + "/g.txt", overwrite=True)
    assert tf.gfile.Stat(d + "/g.txt").length == 12
    with pytest.raises(tf.errors.NotFoundError, match="f.txt"):
        tf.gfile.GFile(p)
    tf.gfile.DeleteRecursively(str(tmp_path / "a"))
    assert not tf.gfile.Exists(d)

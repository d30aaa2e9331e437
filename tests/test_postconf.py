"""labmail postconf: output format, flags and warnings (no real Postfix needed)."""
from __future__ import annotations

from labmail.cli import main
from labmail.mta.maincf import MainCf
from labmail.mta.postconf import postconf, postconf_dir


def write(tmp_path, text, master=True):
    (tmp_path / "main.cf").write_text(text)
    if master:
        (tmp_path / "master.cf").write_text("smtp      inet  n       -       y       -       -       smtpd\n")
    return str(tmp_path)


def test_cli_n_sorted_folded_and_config_directory(tmp_path, capsys):
    d = write(tmp_path, "relayhost = [a]:587\nmynetworks = 127.0.0.0/8,\t[::1]/128\norphan = 1\n")
    assert main(["postconf", "-c", d, "-n"]) == 0
    out, err = capsys.readouterr()
    assert out == f"config_directory = {d}\nmynetworks = 127.0.0.0/8, [::1]/128\nrelayhost = [a]:587\n"
    assert err == f"postconf: warning: {d}/main.cf: unused parameter: orphan=1\n"


def test_cli_x_h_names_and_unknown(tmp_path, capsys):
    d = write(tmp_path, "myhostname = mx.example.org\n")
    assert main(["postconf", "-c", d, "-xh", "mydomain", "nosuch", "relayhost"]) == 0
    out, err = capsys.readouterr()
    assert out == "example.org\n\n"
    assert "postconf: warning: nosuch: unknown parameter" in err


def test_cli_d_and_n_conflict(tmp_path, capsys):
    d = write(tmp_path, "")
    assert main(["postconf", "-c", d, "-d", "-n"]) == 1
    assert capsys.readouterr().err == "postconf: fatal: specify one of -d -n\n"


def test_cli_missing_dir_and_syntax_error(tmp_path, capsys):
    assert main(["postconf", "-c", str(tmp_path / "nope"), "-n"]) == 1
    assert capsys.readouterr().err == f"postconf: fatal: open {tmp_path}/nope/main.cf: No such file or directory\n"
    d = write(tmp_path, "myorigin = a\nfoo bar\n")
    assert main(["postconf", "-c", d, "-n"]) == 1
    assert capsys.readouterr().err == f"postconf: fatal: {d}/main.cf, line 2: missing '=' after attribute name: \"foo bar\"\n"


def test_macro_error_is_fatal(tmp_path):
    d = write(tmp_path, "myorigin = ${mail_name\n")
    r = postconf_dir(d, names=["myorigin"], expand=True)
    assert r.status == 1
    assert r.stderr.endswith('postconf: warning: truncated macro reference: "${mail_name"\n'
                             "postconf: fatal: macro processing error\n")


def test_master_cf_missing_warning(tmp_path):
    d = write(tmp_path, "", master=False)
    assert f"postconf: warning: open {d}/master.cf: No such file or directory" in postconf_dir(d).stderr


def test_defaults_listing_and_n_with_names():
    cf = MainCf.from_text("myhostname = mx.example.org\nmyorigin = $mydomain\n")
    r = postconf(cf, names=["myorigin", "mydestination"], defaults=True, expand=True)
    assert r.stdout.splitlines()[1].startswith("mydestination = ")
    r = postconf(cf, names=["myorigin", "mail_name"], nondefault=True)
    assert r.stdout == "myorigin = $mydomain\n"
    full = postconf(cf).stdout.splitlines()
    assert full == sorted(full) and len(full) > 1000


def test_edit_like_postconf_e_X_and_hash(tmp_path, capsys):
    d = write(tmp_path, "a = 1\n  cont\n# c\nb=2\na = 9\nc = 3\n")
    assert main(["postconf", "-c", d, "-e", "a = 5", "d=  7 ", "b="]) == 0
    assert (tmp_path / "main.cf").read_text() == "a = 5\n# c\nb = \na = 5\nc = 3\nd = 7\n"
    assert main(["postconf", "-c", d, "-X", "a", "c"]) == 0
    assert (tmp_path / "main.cf").read_text() == "# c\nb = \nd = 7\n"
    assert main(["postconf", "-c", d, "-#", "b"]) == 0
    assert (tmp_path / "main.cf").read_text() == "# c\n#b = \nd = 7\n"
    assert main(["postconf", "-c", d, "-e", "novalue"]) == 1
    assert capsys.readouterr().err == "postconf: fatal: missing '=' after attribute name: \"novalue\"\n"

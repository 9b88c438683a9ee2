#!/usr/bin/env python3
"""Refreshes leadgate's e-mail domain lists from maintained public packages.

    python3 scripts/refresh-email-lists.py            # latest versions
    python3 scripts/refresh-email-lists.py --free-version 1.12.6 --disposable-version 0.0.293

Sources (downloaded with the ordinary clients into a temporary folder):
- free-mail providers: the npm package `free-email-domains` (domains.json);
- disposable domains: the PyPI package `disposable-email-domains`
  (source_data/disposable_email_blocklist.conf).

Writes, under crates/leadgate-core/:
- data/free-email-domains.txt, data/disposable-email-domains.txt: the full lists (sorted, one
  domain a line, `#` header with source, version and date); compiled in only with the
  `full-email-lists` feature (the relay). The free list leaves out every disposable domain, so
  the two classes do not overlap.
- src/email/lists.rs: the compact lists compiled into every build (the widget and the score):
  the curated seeds below that the full lists confirm, so a refresh can drop a dead domain but
  never adds an unknown one.
"""

import argparse
import datetime
import json
import pathlib
import subprocess
import sys
import tarfile
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORE = ROOT / "crates" / "leadgate-core"

# The free-mail providers most leads actually use (kept when the free list confirms them).
FREE_SEEDS = """
gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr yahoo.de yahoo.es yahoo.it yahoo.ca
yahoo.com.br yahoo.com.au yahoo.co.in yahoo.co.jp yahoo.com.mx ymail.com rocketmail.com
hotmail.com hotmail.co.uk hotmail.fr hotmail.de hotmail.es hotmail.it outlook.com outlook.fr
outlook.de outlook.es live.com live.co.uk live.fr live.de live.nl live.it msn.com
aol.com aim.com icloud.com me.com mac.com protonmail.com protonmail.ch proton.me pm.me
gmx.de gmx.net gmx.com gmx.at gmx.ch web.de t-online.de freenet.de posteo.de mailbox.org
mail.com email.com inbox.com zoho.com zohomail.com fastmail.com fastmail.fm hey.com
tutanota.com tutanota.de tuta.io hushmail.com yandex.ru yandex.com ya.ru mail.ru bk.ru list.ru
inbox.ru rambler.ru ukr.net qq.com 163.com 126.com sina.com sohu.com yeah.net naver.com
daum.net hanmail.net libero.it virgilio.it tiscali.it alice.it orange.fr wanadoo.fr free.fr
laposte.net sfr.fr neuf.fr btinternet.com sky.com virginmedia.com talktalk.net comcast.net
verizon.net att.net sbcglobal.net cox.net charter.net earthlink.net juno.com optonline.net
shaw.ca rogers.com sympatico.ca bigpond.com optusnet.com.au seznam.cz wp.pl o2.pl onet.pl
interia.pl rediffmail.com uol.com.br bol.com.br terra.com.br telenet.be skynet.be ziggo.nl
kpnmail.nl home.nl bluewin.ch
"""

# Well-known disposable services (kept when the disposable list confirms them).
DISPOSABLE_SEEDS = """
mailinator.com mailinator.net mailinator2.com guerrillamail.com guerrillamail.net
guerrillamail.org guerrillamail.biz guerrillamail.de guerrillamailblock.com sharklasers.com
grr.la pokemail.net spam4.me 10minutemail.com 10minutemail.net 10minutemail.co.uk
20minutemail.com temp-mail.org temp-mail.io tempmail.com tempmail.net tempmailo.com
tempail.com tempr.email tempinbox.com mytemp.email yopmail.com yopmail.fr yopmail.net
cool.fr.nf jetable.fr.nf nospam.ze.tc nomail.xl.cx mega.zik.dj speed.1s.fr courriel.fr.nf
moncourrier.fr.nf monemail.fr.nf monmail.fr.nf trashmail.com trashmail.de trashmail.net
trashmail.me trashmail.io wegwerfmail.de wegwerfmail.net einrot.com getnada.com nada.email
maildrop.cc dispostable.com throwawaymail.com mintemail.com mohmal.com emailondeck.com
fakeinbox.com spamgourmet.com mailnesia.com discard.email discardmail.com discardmail.de
burnermail.io mailcatch.com getairmail.com inboxkitten.com moakt.com mailpoof.com
emailfake.com generator.email minuteinbox.com fakemail.net mailsac.com spambox.us
spamfree24.org mvrht.com mailtemp.net harakirimail.com incognitomail.org anonbox.net
mailforspam.com tempemail.net emailtemporanea.net crazymailing.com mail-temp.com
temporary-mail.net tmpmail.org tmpmail.net tmails.net luxusmail.org byom.de spambog.com
33mail.com filzmail.com mailexpire.com meltmail.com mailmetrash.com trbvm.com
dropmail.me 1secmail.com 1secmail.net 1secmail.org emlhub.com emltmp.com emlpro.com
tempmailaddress.com fakemailgenerator.com armyspy.com cuvox.de dayrep.com einrot.com
fleckens.hu gustr.com jourrapide.com rhyta.com superrito.com teleworm.us
mailnull.com spamex.com e4ward.com owlymail.com binkmail.com bobmail.info chammy.info
devnullmail.com letthemeatspam.com mailinater.com mailismagic.com mailtothis.com
notmailinator.com reallymymail.com safetymail.info sogetthis.com spamherelots.com
spamhereplease.com suremail.info thisisnotmyrealemail.com tradermail.info veryrealemail.com
zippymail.info mailmoat.com spamcero.com deadaddress.com tempomail.fr mail.tm
"""


def run(cmd, cwd):
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def free_list(tmp, version):
    spec = "free-email-domains" + ("@" + version if version else "")
    run(["npm", "pack", "--silent", spec], tmp)
    archive = next(pathlib.Path(tmp).glob("free-email-domains-*.tgz"))
    with tarfile.open(archive) as tar:
        meta = json.load(tar.extractfile("package/package.json"))
        domains = json.load(tar.extractfile("package/domains.json"))
    return "npm free-email-domains " + meta["version"], domains


def disposable_list(tmp, version):
    spec = "disposable-email-domains" + ("==" + version if version else "")
    run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
         "-d", tmp, spec], tmp)
    archive = next(pathlib.Path(tmp).glob("disposable_email_domains-*.tar.gz"))
    found = archive.name[len("disposable_email_domains-"):-len(".tar.gz")]
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers()
                      if m.name.endswith("source_data/disposable_email_blocklist.conf"))
        text = tar.extractfile(member).read().decode()
    domains = [line for line in text.splitlines() if line and not line.startswith("#")]
    return "PyPI disposable-email-domains " + found, domains


def clean(domains):
    return sorted({d.strip().lower() for d in domains if d.strip() and " " not in d})


def write_full(path, title, source, date, domains):
    header = "# " + title + "\n# source: " + source + "\n# date: " + date + "\n# count: "
    path.write_text(header + str(len(domains)) + "\n" + "\n".join(domains) + "\n")


def rust_list(name, doc, domains):
    out = "/// " + doc + "\npub(crate) const " + name + ": &[&str] = &[\n"
    for d in domains:
        out += '    "' + d + '",\n'
    return out + "];\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--free-version", default="")
    parser.add_argument("--disposable-version", default="")
    args = parser.parse_args()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    with tempfile.TemporaryDirectory() as tmp:
        free_source, free = free_list(tmp, args.free_version)
        disposable_source, disposable = disposable_list(tmp, args.disposable_version)
    disposable = clean(disposable)
    free = [d for d in clean(free) if d not in set(disposable)]

    data = CORE / "data"
    data.mkdir(exist_ok=True)
    write_full(data / "free-email-domains.txt", "free-mail provider domains (disposable removed)",
               free_source, date, free)
    write_full(data / "disposable-email-domains.txt", "disposable e-mail domains",
               disposable_source, date, disposable)

    free_set, disposable_set = set(free), set(disposable)
    common_free = sorted(d for d in set(FREE_SEEDS.split()) if d in free_set)
    common_disposable = sorted(d for d in set(DISPOSABLE_SEEDS.split()) if d in disposable_set)
    dropped = sorted((set(FREE_SEEDS.split()) - free_set) | (set(DISPOSABLE_SEEDS.split()) -
                                                             disposable_set))
    rust = (
        "//! Compact e-mail domain lists compiled into every build (the widget included).\n"
        "//! Generated by scripts/refresh-email-lists.py: do not edit by hand.\n"
        "//! free-mail source: " + free_source + "; disposable source: " + disposable_source +
        "; date: " + date + ".\n"
        "//! The curated seeds in the script, kept where the full lists confirm them.\n\n"
        "/// The source packages and the date of this snapshot.\n"
        "pub const SOURCE: &str = \"" + free_source + "; " + disposable_source + "; " + date +
        "\";\n\n" +
        rust_list("COMMON_FREE", "Common free-mail providers, sorted (binary search).",
                  common_free) + "\n" +
        rust_list("COMMON_DISPOSABLE", "Well-known disposable services, sorted (binary search).",
                  common_disposable))
    (CORE / "src" / "email" / "lists.rs").write_text(rust)
    print("free: %d (%s), disposable: %d (%s)" % (len(free), free_source, len(disposable),
                                                  disposable_source))
    print("compact: %d free, %d disposable; seeds not confirmed: %s" % (
        len(common_free), len(common_disposable), " ".join(dropped) or "none"))


if __name__ == "__main__":
    main()

"""Replica lag under writes: a primary (`--demo`) and one `serve --suivre` replica; WRITES
writes per second (the DAEU sample renumbered, one offer per POST) for SECONDS seconds, while
both /health are sampled every 20 ms. The lag at an instant is how long the oldest journal
entry the replica has not applied has been on the primary (0 when it has all).

    python3 benches/replique.py target/release/sofi [WRITES] [SECONDS] [SAMPLE]

Prints the lag's p50, p99 and max, and the writes done.
"""
import http.client, json, os, shutil, subprocess, sys, tempfile, threading, time

binaire = sys.argv[1]
par_s = int(sys.argv[2]) if len(sys.argv) > 2 else 50
duree = float(sys.argv[3]) if len(sys.argv) > 3 else 30
exemple = sys.argv[4] if len(sys.argv) > 4 else "../shared/lheo/samples/trefle/daeu.xml"
modele = open(exemple).read()
dp, dr = tempfile.mkdtemp(), tempfile.mkdtemp()
pp, pr = 18301, 18302


def sante(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/health")
    return json.loads(c.getresponse().read())


def attendre(port, cond):
    while True:
        try:
            if cond(sante(port)):
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)


serveurs = [
    subprocess.Popen(
        [binaire, "--data-dir", dp, "serve", "--demo", "--listen", f"127.0.0.1:{pp}"],
        stderr=subprocess.DEVNULL,
    )
]
attendre(pp, lambda h: h["statut"] == "ok")
serveurs.append(
    subprocess.Popen(
        [binaire, "--data-dir", dr, "serve", "--listen", f"127.0.0.1:{pr}",
         "--suivre", f"http://127.0.0.1:{pp}"],
        stderr=subprocess.DEVNULL,
    )
)
attendre(pr, lambda h: h.get("replique", {}).get("retard_entrees", 1) == 0
         and h.get("replique", {}).get("applique", 0) > 0)
jeton = open(os.path.join(dp, "admin-token")).read().strip()
fin = time.time() + duree
quand_seq = {}  # primary's journal sequence -> first time it was seen
echantillons = []  # (time, primary seq, replica applied)
ecrites = [0]


def ecrivain():
    c = http.client.HTTPConnection("127.0.0.1", pp)
    k, t = 0, time.time()
    while time.time() < fin:
        k += 1
        corps = modele.replace('numero="15_464888"', f'numero="R{k}"', 1).encode()
        c.request("POST", "/api/v1/import", corps, {"Authorization": f"Bearer {jeton}"})
        r = c.getresponse()
        r.read()
        ecrites[0] += r.status == 200
        t += 1 / par_s
        time.sleep(max(0, t - time.time()))


def echantillonneur():
    while time.time() < fin + 3:
        t = time.time()
        p = sante(pp)["journal_seq"]
        quand_seq.setdefault(p, t)
        a = sante(pr)["replique"]["applique"]
        echantillons.append((time.time(), p, a))
        time.sleep(0.02)


fils = [threading.Thread(target=ecrivain), threading.Thread(target=echantillonneur)]
for f in fils:
    f.start()
for f in fils:
    f.join()
seqs = sorted(quand_seq)
retards = []
for t, p, a in echantillons:
    # The first sequence above `a` the primary was seen with, and since when.
    suivantes = [s for s in seqs if s > a]
    retards.append(0.0 if not suivantes else max(0.0, t - quand_seq[suivantes[0]]))
retards.sort()
for s in serveurs:
    s.terminate()
    s.wait()
shutil.rmtree(dp)
shutil.rmtree(dr)
q = lambda x: retards[min(len(retards) - 1, int(x * len(retards)))]
print(
    f"{ecrites[0]} writes in {duree:.0f} s ({ecrites[0] / duree:.0f}/s); replica lag "
    f"p50 {q(0.5) * 1000:.0f} ms, p99 {q(0.99) * 1000:.0f} ms, max {retards[-1] * 1000:.0f} ms "
    f"over {len(retards)} samples"
)

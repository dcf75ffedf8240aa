"""Online compaction under load: a copy of a data directory (e.g. 1M sessions) served with a
threshold of 1 % of dead bytes; a 500-session file imported again and again (two versions
alternating, `remplacer`) makes dead bytes, while one client searches without pause. The
first compaction starts within seconds; the script waits for its end.

    python3 benches/compaction.py target/release/sofi DATA_DIR [PORT]

Prints the compaction's log line (duration, longest wait it imposed on writers), and the
imports' and searches' latencies during the compaction and outside it.
"""
import http.client, json, os, shutil, statistics, subprocess, sys, tempfile, threading, time

binaire, source = sys.argv[1], sys.argv[2]
port = int(sys.argv[3]) if len(sys.argv) > 3 else 18311
travail = tempfile.mkdtemp(dir=os.environ.get("TMPDIR"))
data = os.path.join(travail, "data")
shutil.copytree(source, data)
fichiers = []
for graine in (901, 902):
    f = os.path.join(travail, f"lot-{graine}.xml")
    subprocess.run([binaire, "generate", "--sessions", "500", "--seed", str(graine), "--output", f],
                   check=True, stderr=subprocess.DEVNULL)
    fichiers.append(open(f, "rb").read())
journal = open(os.path.join(travail, "serveur.log"), "w")
serveur = subprocess.Popen(
    [binaire, "--data-dir", data, "serve", "--listen", f"127.0.0.1:{port}",
     "--compaction-seuil", "1", "--compaction-min-mo", "0"],
    env=dict(os.environ, SOFI_ANONYME_PAR_MINUTE="100000000", SOFI_ANONYME_PAR_JOUR="1000000000"),
    stderr=journal, stdout=journal)


def get(chemin):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", chemin)
    r = c.getresponse()
    return r.status, r.read()


while True:
    try:
        s, b = get("/health")
        if s == 200 and json.loads(b)["statut"] == "ok":
            break
    except (OSError, ValueError):
        pass
    time.sleep(0.2)
jeton = open(os.path.join(data, "admin-token")).read().strip()
fini = threading.Event()
imports, recherches, fenetre = [], [], []


def metrique(nom):
    _, b = get("/metrics")
    for l in b.decode().splitlines():
        if l.startswith(nom + " "):
            return float(l.split()[1])
    return 0.0


def importeur():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    k = 0
    while not fini.is_set():
        t = time.time()
        c.request("POST", "/api/v1/import?source=charge&remplacer=1", fichiers[k % 2],
                  {"Authorization": f"Bearer {jeton}"})
        r = c.getresponse()
        r.read()
        assert r.status == 200, r.status
        imports.append((t, time.time() - t))
        k += 1
        time.sleep(0.2)


def chercheur():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    mots = ["cariste", "anglais", "soudure", "comptabilite", "infirmier", "cuisine"]
    k = 0
    while not fini.is_set():
        t = time.time()
        c.request("GET", f"/api/v1/recherche?q={mots[k % len(mots)]}")
        r = c.getresponse()
        r.read()
        assert r.status == 200, r.status
        recherches.append((t, time.time() - t))
        k += 1


fils = [threading.Thread(target=importeur), threading.Thread(target=chercheur)]
for f in fils:
    f.start()
debut = None
while True:
    en_cours = metrique("sofi_compaction_en_cours")
    if en_cours and debut is None:
        debut = time.time()
    if debut and not en_cours and metrique("sofi_compactions_total") >= 1:
        fin = time.time()
        break
    time.sleep(0.1)
time.sleep(3)
fini.set()
for f in fils:
    f.join()
serveur.terminate()
serveur.wait()
journal.close()
for l in open(os.path.join(travail, "serveur.log")):
    if "compactés" in l:
        print(l.strip())


def resume(nom, mesures):
    dedans = sorted(d for t, d in mesures if debut <= t <= fin)
    dehors = sorted(d for t, d in mesures if not debut <= t <= fin)
    for titre, v in (("pendant", dedans), ("hors", dehors)):
        if v:
            p = lambda q: v[min(len(v) - 1, int(q * len(v)))] * 1000
            print(f"{nom} {titre} : {len(v)}, p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, "
                  f"max {v[-1] * 1000:.1f} ms")


print(f"compaction vue de /metrics : {fin - debut:.1f} s")
resume("imports", imports)
resume("recherches", recherches)
shutil.rmtree(travail)

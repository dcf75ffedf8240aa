//! The dashboard: an organisation's offers with their state, next sessions and findings,
//! and the offers its feeds bring, read-only.

use super::champs::*;
use super::*;

pub(in crate::http::espace) async fn tableau(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    let q = match connecte(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    if q.siret().is_none() && q.equipe() {
        return redirect("/gestion");
    }
    bloquant(move || {
        let Some(siret) = q.siret().map(str::to_string) else {
            return introuvable(Some(&q));
        };
        let dossiers = match app.store.dossiers_de(&siret) {
            Ok(d) => d,
            Err(e) => return erreur_stockage(&e),
        };
        let etab = app.store.etablissement(&siret).ok().flatten();
        let suspension = app.store.suspension(&siret).ok().flatten();
        let mut lignes: Vec<Ligne> = Vec::new();
        let jour = aujourdhui();
        let mut expirees = 0;
        for d in &dossiers {
            let diffusee = app.store.offre(&d.numero).ok().flatten();
            if d.etat_du_jour(diffusee.as_ref().map(|o| &o.formation), &jour) == Etat::Expiree {
                expirees += 1;
            }
            let f = match (&d.travail, &diffusee) {
                (Some(r), _) => r.formation.clone(),
                (None, Some(o)) => o.formation.clone(),
                _ => continue,
            };
            let v = d
                .travail
                .as_ref()
                .map(|r| r.verdict.clone())
                .or(diffusee.as_ref().map(|o| o.verdict.clone()))
                .unwrap_or_default();
            lignes.push((
                d.numero.clone(),
                etat_badge(Some(d), diffusee.as_ref().map_or(&f, |o| &o.formation)),
                f.intitule.clone(),
                prochaines(&f, &jour),
                (v.erreurs().count(), v.avertissements().count()),
            ));
        }
        let flux: Vec<(String, String, String)> = app
            .store
            .numeros_par_organisme(&siret)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| !dossiers.iter().any(|d| &d.numero == n))
            .filter_map(|n| app.store.offre(&n).ok().flatten())
            .map(|o| (o.formation.numero, o.formation.intitule, o.source))
            .collect();
        ok(cadre_prive(
            "Mes formations",
            Some(&q),
            html! {
                h1 { "Mes formations" }
                p { "Organisme " strong { (etab.as_ref().map_or(siret.as_str(), |e| e.raison_sociale.as_str())) } " — SIRET " (siret) }
                @if q.compte.sirets.len() > 1 {
                    form.en-ligne method="post" action="/espace/siret" {
                        (csrf(&q))
                        label for="siret-choisi" { "Agir pour : " }
                        select id="siret-choisi" name="siret" {
                            @for s in &q.compte.sirets { option value=(s) selected[s == &siret] { (s) } }
                        }
                        button type="submit" { "Changer" }
                    }
                }
                @if let Some(x) = &suspension {
                    p.erreur role="alert" { "Votre organisme est suspendu par le Carif-Oref depuis le " (horodatage(x.le)) " : " (x.motif) ". Ses offres ne sont pas diffusées." }
                }
                @if expirees > 0 {
                    p.erreur role="alert" { (expirees) " offre(s) expirée(s) : plus aucune session ouverte, elles ne sont plus proposées aux candidats. Ajoutez une session, ou retirez l'offre." }
                }
                @if etab.as_ref().is_none_or(|e| e.raison_sociale.is_empty()) {
                    p.erreur role="alert" { "Commencez par décrire votre établissement : " a href="/espace/etablissement" { "Mon établissement" } "." }
                }
                ul.actions-espace {
                    li { a.bouton href="/espace/formations/nouvelle" { "Nouvelle formation" } }
                    li { a href="/espace/etablissement" { "Mon établissement" } }
                    li { a href="/espace/fichier" { "Déposer un fichier LHÉO" } }
                    @if q.responsable() { li { a href="/espace/utilisateurs" { "Utilisateurs" } } }
                    li { a href="/espace/jetons" { "Jetons d'API" } }
                }
                @if lignes.is_empty() && flux.is_empty() {
                    p { "Aucune formation pour l'instant." }
                } @else {
                    table.tableau-offres {
                        caption { "Formations saisies ici" }
                        thead { tr { th scope="col" { "Formation" } th scope="col" { "État" } th scope="col" { "Prochaines sessions" } th scope="col" { "Constats" } } }
                        tbody {
                            @for (n, etat, titre, sessions, (e, a)) in &lignes {
                                tr {
                                    td { a href={ "/espace/formations/" (enc(n)) } { (if titre.is_empty() { "(sans intitulé)" } else { titre }) } br; small { (n) } }
                                    td { (etat) }
                                    td { (sessions) }
                                    td { @if *e > 0 { span.constat.bloquant { (e) " erreur(s)" } " " } @if *a > 0 { (a) " avertissement(s)" } @if *e == 0 && *a == 0 { "aucun" } }
                                }
                            }
                        }
                    }
                    @if !flux.is_empty() {
                        table.tableau-offres {
                            caption { "Formations reçues par flux (lecture seule)" }
                            thead { tr { th scope="col" { "Formation" } th scope="col" { "Source" } } }
                            tbody {
                                @for (n, t, s) in &flux {
                                    tr { td { a href={ "/espace/formations/" (enc(n)) } { (t) } br; small { (n) } } td { (s) } }
                                }
                            }
                        }
                    }
                }
            },
        ))
    })
    .await
}

/// A dashboard row: numero, state badge, title, next sessions, (errors, warnings).
type Ligne = (String, Markup, String, Markup, (usize, usize));

/// The next two session starts, in French.
fn prochaines(f: &Formation, jour: &str) -> Markup {
    let mut debuts: Vec<&str> = f
        .sessions()
        .filter(|s| s.periode.fin.as_str() >= jour || s.periode.fin.ends_with("00"))
        .map(|s| s.periode.debut.as_str())
        .collect();
    debuts.sort();
    html! {
        @if debuts.is_empty() { "aucune" }
        @for d in debuts.iter().take(2) { (date_lisible(d)) br; }
    }
}

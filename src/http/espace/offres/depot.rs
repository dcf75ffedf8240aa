//! An organisation's own LHÉO file, through the import pipeline: its offers land
//! `en_attente`.

use super::*;
use axum::extract::FromRequest;

fn page_fichier(q: &Qui, rapport: Option<&crate::import::Rapport>) -> Markup {
    cadre_prive(
        "Déposer un fichier LHÉO",
        Some(q),
        html! {
            h1 { "Déposer un fichier LHÉO" }
            p { "Votre logiciel exporte votre offre au format LHÉO (2.2 ou 2.3) ? Déposez le fichier : chaque offre est vérifiée par les mêmes règles que les formulaires, puis soumise au Carif-Oref. Les offres d'un autre SIRET que " strong { (q.siret().unwrap_or("")) } " sont refusées." }
            @if let Some(r) = rapport {
                div role="status" .succes[r.rejetees == 0] .erreur[r.rejetees > 0] {
                    p { (r.lues) " offre(s) lue(s) : " (r.creees) " nouvelle(s), " (r.modifiees) " modifiée(s), " (r.inchangees) " inchangée(s) — soumises au Carif-Oref ; " (r.rejetees) " refusée(s)." }
                    @if let Some(e) = &r.erreur_fatale { p { "Lecture interrompue : " (e) } }
                    @if !r.rejets.is_empty() {
                        ul { @for rj in &r.rejets { li { "Offre " code { (rj.numero) } @if rj.ligne > 0 { " (ligne " (rj.ligne) ")" } " : "
                            @for e in &rj.erreurs { (e.message) " [" code { (e.code) } "] " } } } }
                    }
                }
            }
            form.saisie method="post" action="/espace/fichier" enctype="multipart/form-data" {
                (csrf(q))
                p.champ { label for="fichier" { "Fichier LHÉO (.xml, éventuellement .gz)" } input id="fichier" name="fichier" type="file" accept=".xml,.gz,application/xml" required; }
                p { button type="submit" { "Déposer" } }
            }
        },
    )
}

pub(in crate::http::espace) async fn fichier_page(
    S(app): S<Arc<App>>,
    req: Request,
) -> Response<Body> {
    match connecte(&app, req.headers()).await {
        Ok(q) if q.siret().is_some() => ok(page_fichier(&q, None)),
        Ok(q) => introuvable(Some(&q)),
        Err(r) => r,
    }
}

pub(in crate::http::espace) async fn fichier(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    if let Some(p) = cross_site(req.headers()) {
        return refus(StatusCode::FORBIDDEN, "Requête refusée", &p, None);
    }
    let q = match connecte(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    let Some(siret) = q.siret().map(str::to_string) else {
        return introuvable(Some(&q));
    };
    let limite = crate::limits::MAX_DEPOT.min(app.upload_limit as usize);
    let place = app.upload_slots.clone().acquire_owned();
    let Ok(Ok(_place)) = tokio::time::timeout(crate::limits::UPLOAD_WAIT, place).await else {
        let mut r = refus(
            StatusCode::SERVICE_UNAVAILABLE,
            "Dépôts occupés",
            "Trop de dépôts en cours : réessayez dans un instant.",
            Some(&q),
        );
        r.headers_mut()
            .insert("retry-after", "5".parse().expect("digits"));
        return r;
    };
    let mut multipart = match axum::extract::Multipart::from_request(req, &()).await {
        Ok(m) => m,
        Err(e) => {
            return refus(
                StatusCode::BAD_REQUEST,
                "Envoi illisible",
                &e.body_text(),
                Some(&q),
            )
        }
    };
    let (mut jeton, mut octets, mut nom) = (String::new(), None, String::from("fichier.xml"));
    loop {
        match multipart.next_field().await {
            Ok(Some(mut champ)) => match champ.name() {
                Some("_csrf") => jeton = champ.text().await.unwrap_or_default(),
                Some("fichier") => {
                    nom = champ
                        .file_name()
                        .unwrap_or("fichier.xml")
                        .chars()
                        .take(100)
                        .collect();
                    let mut v: Vec<u8> = Vec::new();
                    loop {
                        match champ.chunk().await {
                            Ok(Some(c)) => {
                                if v.len() + c.len() > limite {
                                    return refus(
                                        StatusCode::PAYLOAD_TOO_LARGE,
                                        "Fichier trop volumineux",
                                        &format!("le fichier dépasse {} Mo", limite >> 20),
                                        Some(&q),
                                    );
                                }
                                v.extend_from_slice(&c);
                            }
                            Ok(None) => break,
                            Err(e) => {
                                return refus(
                                    StatusCode::BAD_REQUEST,
                                    "Envoi interrompu",
                                    &e.body_text(),
                                    Some(&q),
                                )
                            }
                        }
                    }
                    octets = Some(v);
                }
                _ => {}
            },
            Ok(None) => break,
            Err(e) => {
                return refus(
                    StatusCode::BAD_REQUEST,
                    "Envoi illisible",
                    &e.body_text(),
                    Some(&q),
                )
            }
        }
    }
    if !same_token(&jeton, &q.session.csrf) {
        return refus(
            StatusCode::FORBIDDEN,
            "Requête refusée",
            "le jeton du formulaire manque ou a expiré : rechargez la page",
            Some(&q),
        );
    }
    let Some(octets) = octets else {
        return refus(
            StatusCode::BAD_REQUEST,
            "Aucun fichier",
            "choisissez un fichier LHÉO à déposer",
            Some(&q),
        );
    };
    bloquant(
        move || match deposer(&app, &q.auteur(), &[siret], &nom, octets) {
            Ok(r) => ok(page_fichier(&q, Some(&r))),
            Err(e) => erreur_stockage(&e),
        },
    )
    .await
}

/// Runs the import pipeline on an organisation's file: its offers land `en_attente`.
pub(in crate::http::espace) fn deposer(
    app: &App,
    auteur: &str,
    sirets: &[String],
    nom: &str,
    octets: Vec<u8>,
) -> Result<crate::import::Rapport, StoreError> {
    let n = octets.len() as u64;
    let input = crate::lheo::Input::de(std::io::Cursor::new(octets), Some(n));
    let opts = crate::import::Options {
        store: Some(&app.store),
        source: format!("{SOURCE_ESPACE}:{nom}"),
        remplacer: false,
        depot: Some(crate::import::Depot { sirets, auteur }),
    };
    match crate::import::importer(input, &app.refs, &opts, &|_| {}) {
        Ok(r) => Ok(r),
        Err(crate::import::ImportError::Store(e)) => Err(e),
    }
}

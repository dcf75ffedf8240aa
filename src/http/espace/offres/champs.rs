//! The forms' building blocks: a field with its findings beside it (linked for screen
//! readers), selects and checkboxes from LHÉO dictionaries, the findings of a step split by
//! field, the scope decision and the state badge.

use super::*;

/// Findings of a step, by field: `prefixe` is the step's element path, `champs` maps each
/// form field to the LHÉO elements it feeds (most specific first).
pub(super) struct Constats<'a> {
    pub(super) par_champ: Vec<(&'static str, Vec<&'a Constat>)>,
    pub(super) autres: Vec<&'a Constat>,
}

pub(super) fn repartir<'a>(
    v: &'a Verdict,
    prefixe: &str,
    champs: &[(&'static str, &'static str)],
    exclure: &[&str],
) -> Constats<'a> {
    let mut par_champ: Vec<(&'static str, Vec<&Constat>)> =
        champs.iter().map(|(c, _)| (*c, Vec::new())).collect();
    let mut autres = Vec::new();
    for c in &v.constats {
        let Some(reste) = c.chemin.strip_prefix(prefixe) else {
            continue;
        };
        let reste = reste.trim_start_matches('/');
        if exclure.iter().any(|x| reste.starts_with(x)) {
            continue;
        }
        match champs.iter().position(|(_, el)| reste.starts_with(el)) {
            Some(i) => par_champ[i].1.push(c),
            None => autres.push(c),
        }
    }
    Constats { par_champ, autres }
}

impl<'a> Constats<'a> {
    pub(super) fn de(&self, champ: &str) -> &[&'a Constat] {
        self.par_champ
            .iter()
            .find(|(c, _)| *c == champ)
            .map_or(&[], |(_, v)| v.as_slice())
    }
}

pub(super) fn constat(c: &Constat, id: &str) -> Markup {
    let g = match c.gravite {
        Gravite::Bloquant => "bloquant",
        Gravite::Avertissement => "avertissement",
    };
    html! {
        span class={ "constat " (g) } id=(id) {
            strong { @if c.gravite == Gravite::Bloquant { "Erreur" } @else { "Avertissement" } }
            " [" code { (c.code) } "] " (c.message) ". "
            em { (saisie::que_faire(&c.code)) }
        }
    }
}

pub(super) fn liste_constats(titre: &str, v: &[&Constat]) -> Markup {
    html! {
        @if !v.is_empty() {
            div.constats role="region" aria-label=(titre) {
                p { strong { (titre) } }
                ul { @for (i, c) in v.iter().enumerate() { li { (constat(c, &format!("autre-{i}"))) } } }
            }
        }
    }
}

/// A labelled field with its findings, linked for screen readers.
pub(super) fn champ(
    nom: &str,
    libelle: &str,
    valeur: &str,
    cs: &[&Constat],
    genre: Genre,
    aide: &str,
    lecture: bool,
) -> Markup {
    let invalide = cs.iter().any(|c| c.gravite == Gravite::Bloquant);
    let ids: Vec<String> = (0..cs.len()).map(|i| format!("c-{nom}-{i}")).collect();
    let decrit = {
        let mut d = ids.join(" ");
        if !aide.is_empty() {
            d = format!("aide-{nom} {d}");
        }
        d
    };
    html! {
        div.champ .a-corriger[invalide] {
            label for=(nom) { (libelle) }
            @if !aide.is_empty() { span.aide id={ "aide-" (nom) } { (aide) } }
            @match genre {
                Genre::Long => textarea id=(nom) name=(nom) rows="5" readonly[lecture] aria-invalid=[invalide.then_some("true")] aria-describedby=(decrit) { (valeur) },
                Genre::Date => input id=(nom) name=(nom) type="date" value=(valeur) readonly[lecture] aria-invalid=[invalide.then_some("true")] aria-describedby=(decrit);,
                Genre::Court => input id=(nom) name=(nom) value=(valeur) readonly[lecture] aria-invalid=[invalide.then_some("true")] aria-describedby=(decrit);,
            }
            @for (c, id) in cs.iter().zip(&ids) { (constat(c, id)) }
        }
    }
}

#[derive(Clone, Copy)]
pub(super) enum Genre {
    Court,
    Long,
    Date,
}

pub(super) fn choix(
    nom: &str,
    libelle: &str,
    options: &[(String, String)],
    valeur: &str,
    cs: &[&Constat],
    lecture: bool,
) -> Markup {
    let invalide = cs.iter().any(|c| c.gravite == Gravite::Bloquant);
    let ids: Vec<String> = (0..cs.len()).map(|i| format!("c-{nom}-{i}")).collect();
    html! {
        div.champ .a-corriger[invalide] {
            label for=(nom) { (libelle) }
            select id=(nom) name=(nom) disabled[lecture] aria-invalid=[invalide.then_some("true")] aria-describedby=(ids.join(" ")) {
                option value="" { "— choisir —" }
                @for (code, lib) in options {
                    option value=(code) selected[code == valeur] { (lib) }
                }
            }
            @for (c, id) in cs.iter().zip(&ids) { (constat(c, id)) }
        }
    }
}

pub(super) fn cases(
    nom: &str,
    libelle: &str,
    options: &[(String, String)],
    valeurs: &[String],
    cs: &[&Constat],
    lecture: bool,
) -> Markup {
    let ids: Vec<String> = (0..cs.len()).map(|i| format!("c-{nom}-{i}")).collect();
    html! {
        fieldset.champ.cases aria-describedby=(ids.join(" ")) {
            legend { (libelle) }
            @for (code, lib) in options {
                p {
                    input type="checkbox" id={ (nom) "-" (code) } name=(nom) value=(code) checked[valeurs.contains(code)] disabled[lecture];
                    label for={ (nom) "-" (code) } { " " (lib) }
                }
            }
            @for (c, id) in cs.iter().zip(&ids) { (constat(c, id)) }
        }
    }
}

pub(super) fn dico(refs: &Referentiels, d: &str) -> Vec<(String, String)> {
    refs.dictionnaires
        .get(d)
        .into_iter()
        .flatten()
        .filter(|(_, l)| l != "Code(s) obsolète(s)")
        .map(|(c, l)| (c.clone(), l.clone()))
        .collect()
}

pub(super) fn sites(e: &Etablissement) -> Vec<(String, String)> {
    std::iter::once(&e.site_principal)
        .chain(&e.sites)
        .enumerate()
        .map(|(i, s)| {
            (
                i.to_string(),
                format!(
                    "{} — {} {}",
                    if s.nom.is_empty() { "Site" } else { &s.nom },
                    s.codepostal,
                    s.ville
                ),
            )
        })
        .collect()
}

/// "sera diffusée : …" / "ne sera pas diffusée : …" for each action.
pub(super) fn decisions(f: &Formation, refs: &Referentiels) -> Markup {
    html! {
        @if !f.actions.is_empty() {
            div.perimetre role="status" {
                p { strong { "Diffusion prévue" } }
                ul {
                    @for a in &f.actions {
                        @let d = crate::rules::decision(f, a, refs);
                        li {
                            "Action " (a.numero) " : "
                            @if d.diffusee { strong.diffusee { "sera diffusée" } } @else { strong.non-diffusee { "ne sera pas diffusée" } }
                            " — " (d.motif)
                        }
                    }
                }
                p {
                    "Éligibilité au CPF : "
                    @if crate::diffusion::eligible_cpf(f, refs) { strong { "oui" } " (certification inscrite au RNCP ou au Répertoire spécifique)" }
                    @else { strong { "non" } " (il faut une certification inscrite au RNCP ou au Répertoire spécifique)" }
                }
            }
        }
    }
}

pub(super) fn etat_badge(d: Option<&Dossier>, f: &Formation) -> Markup {
    let (code, libelle) = match d {
        None => ("flux", "reçue par flux (lecture seule)".to_string()),
        Some(d) => {
            let e = d.etat_du_jour(Some(f), &aujourdhui());
            let mut l = e.libelle().to_string();
            if d.en_ligne && d.travail.is_some() && e != Etat::Retiree {
                l.push_str(" (la version diffusée reste en ligne)");
            }
            (e.code(), l)
        }
    };
    html! { span class={ "etat etat-" (code) } { (libelle) } }
}

/// Form fields and the LHÉO elements they feed (most specific first).
pub(super) const CHAMPS_FORMATION: &[(&str, &str)] = &[
    ("intitule", "intitule-formation"),
    ("objectif", "objectif-formation"),
    ("contenu", "contenu-formation"),
    ("resultats_attendus", "resultats-attendus"),
    ("certification", "certification"),
    ("formacodes", "domaine-formation"),
    ("niveau_entree", "code-niveau-entree"),
    ("niveau_sortie", "code-niveau-sortie"),
    ("parcours", "parcours-de-formation"),
    ("contact_email", "contact-formation/courriel"),
    ("contact_nom", "contact-formation"),
];

/// Form fields and the LHÉO elements they feed (most specific first).
pub(super) const CHAMPS_ACTION: &[(&str, &str)] = &[
    ("lieu", "lieu-de-formation"),
    ("siret_formateur", "organisme-formateur"),
    ("modalites_enseignement", "modalites-enseignement"),
    ("entrees_sorties", "modalites-entrees-sorties"),
    ("heures_centre", "nombre-heures-centre"),
    ("heures_entreprise", "nombre-heures-entreprise"),
    ("heures_centre", "nombre-heures-total"),
    ("rythme", "rythme-formation"),
    ("alternance", "modalites-alternance"),
    ("prix_total", "prix-total-TTC"),
    ("prix_total", "prix-horaire-TTC"),
    ("niveau_obligatoire", "niveau-entree-obligatoire"),
    ("conditions_acces", "conditions-specifiques"),
    ("financeurs", "organisme-financeur"),
    ("publics", "code-public-vise"),
    ("date_information", "date-information"),
];

/// Form fields and the LHÉO elements they feed (most specific first).
pub(super) const CHAMPS_SESSION: &[(&str, &str)] = &[
    ("debut", "periode/debut"),
    ("fin", "periode/fin"),
    ("debut", "periode"),
    ("etat_recrutement", "etat-recrutement"),
    ("places", "nb-places"),
    ("inscription", "adresse-inscription"),
    ("modalites_inscription", "modalites-inscription"),
];

/// Staff's reasons as findings beside the fields they concern (warnings: they do not block a
/// new submission, the organisation answers them by changing the offer).
pub(super) fn avec_motifs(mut v: Verdict, d: Option<&Dossier>, f: &Formation) -> Verdict {
    let Some(d) = d else { return v };
    let p = format!("formation[{}]", f.numero);
    for m in &d.motifs {
        let message = format!(
            "Le Carif-Oref demande : {}. {}{}",
            m.motif.libelle,
            m.motif.action,
            if m.texte.is_empty() {
                String::new()
            } else {
                format!(" « {} »", m.texte)
            }
        );
        let code = format!("carif-{}", m.motif.code);
        let champ = m.motif.champ.as_deref().unwrap_or("");
        let element = |t: &[(&'static str, &'static str)]| -> Option<&'static str> {
            t.iter().find(|(c, _)| *c == champ).map(|(_, e)| *e)
        };
        let mut chemins = Vec::new();
        if let Some(e) = element(CHAMPS_FORMATION) {
            chemins.push(format!("{p}/{e}"));
        } else if let Some(e) = element(CHAMPS_ACTION) {
            chemins.extend(
                f.actions
                    .iter()
                    .map(|a| format!("{p}/action[{}]/{e}", a.numero)),
            );
        } else if let Some(e) = element(CHAMPS_SESSION) {
            for a in &f.actions {
                chemins.extend(
                    a.sessions
                        .iter()
                        .map(|s| format!("{p}/action[{}]/session[{}]/{e}", a.numero, s.numero)),
                );
            }
        }
        if chemins.is_empty() {
            chemins.push(p.clone());
        }
        for c in chemins {
            v.constats
                .push(Constat::avertissement(&code, c, message.clone()));
        }
    }
    v
}

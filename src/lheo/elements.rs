//! The names LHÉO 2.3 gives its elements and the attributes it allows where: the reader
//! borrows known names instead of allocating them, and drops attributes the schema does not
//! allow (so feeds stay valid).

use std::borrow::Cow;

/// Whether LHÉO 2.3 allows this attribute on this element: the common ones everywhere, the
/// dates and links where the XSD puts them.
pub(super) fn attribut_connu(element: &str, attribut: &str) -> bool {
    matches!(
        attribut,
        "numero"
            | "info"
            | "ref"
            | "id"
            | "idref"
            | "tag"
            | "horodatage-creation"
            | "horodatage-modification"
            | "horodatage-export"
            | "uri"
    ) || (matches!(attribut, "datecrea" | "datemaj")
        && matches!(
            element,
            "lheo"
                | "formation"
                | "action"
                | "session"
                | "lheo-index"
                | "resume-offre"
                | "resume-organisme"
        ))
        || (matches!(attribut, "href" | "file")
            && matches!(
                element,
                "formation"
                    | "organisme-formation-responsable"
                    | "resume-offre"
                    | "resume-organisme"
            ))
}

/// Every element name of the LHÉO 2.3 schema, sorted by bytes: known names are not allocated.
pub(super) static NOMS: &[&str] = &[
    "SIRET",
    "SIRET-formateur",
    "SIRET-lieu-formation",
    "SIRET-organisme-formation",
    "a-distance",
    "acces-handicapes",
    "action",
    "adresse",
    "adresse-information",
    "adresse-inscription",
    "alternance",
    "annee-cycle",
    "bloc-competences",
    "blocs-competences",
    "capacite-cumulee",
    "capacite-simultanee",
    "certifiante",
    "certification",
    "civilite",
    "code-CERTIFINFO",
    "code-CPF",
    "code-ELU",
    "code-FORMACODE",
    "code-INSEE-canton",
    "code-INSEE-commune",
    "code-NSF",
    "code-RNCP",
    "code-ROME",
    "code-RS",
    "code-UAI",
    "code-UAI-formateur",
    "code-UAI-lieu-formation",
    "code-UAI-organisme-formation",
    "code-bloc",
    "code-financeur",
    "code-modalite-pedagogique",
    "code-niveau-entree",
    "code-niveau-sortie",
    "code-perimetre-recrutement",
    "code-public-vise",
    "code-type-formation",
    "codepostal",
    "commentaire",
    "conditions-specifiques",
    "contact-formateur",
    "contact-formation",
    "contact-formation-resume",
    "contact-organisme",
    "contact-session",
    "contenu-formation",
    "conventionnement",
    "coordonnees",
    "coordonnees-organisme",
    "courriel",
    "cout-indicatif-equipement",
    "cycle",
    "date",
    "date-information",
    "debut",
    "denomination",
    "departement",
    "detail-conditions-prise-en-charge",
    "domaine-formation",
    "duree-conventionnee",
    "duree-cycle",
    "duree-indicative",
    "effectif-minimal",
    "enseignement",
    "equipement",
    "etat-recrutement",
    "extra",
    "extras",
    "fax",
    "fin",
    "formation",
    "frais-restants",
    "geolocalisation",
    "hebergement",
    "heure-debut",
    "heure-fin",
    "identifiant-module",
    "info-public-vise",
    "infos-perimetre-recrutement",
    "intitule-formation",
    "langue-formation",
    "latitude",
    "lheo",
    "lheo-index",
    "lheo-plus",
    "libelle-bloc",
    "libelle-enseignement",
    "lieu-de-formation",
    "ligne",
    "longitude",
    "modalite-recrutement",
    "modalites-alternance",
    "modalites-enseignement",
    "modalites-entrees-sorties",
    "modalites-inscription",
    "modalites-pedagogiques",
    "modalites-recrutement",
    "modules-prerequis",
    "nb-places",
    "nb-places-financees",
    "niveau-entree-obligatoire",
    "nom",
    "nom-organisme",
    "nombre-heures-centre",
    "nombre-heures-entreprise",
    "nombre-heures-total",
    "numero-activite",
    "numtel",
    "objectif-formation",
    "objectif-general-formation",
    "obligatoire",
    "offres",
    "organisme-financeur",
    "organisme-formateur",
    "organisme-formation-responsable",
    "parcours-de-formation",
    "pays",
    "periode",
    "periode-inscription",
    "portable",
    "positionnement",
    "potentiel",
    "prenom",
    "prise-en-charge-frais-possible",
    "prix-horaire-TTC",
    "prix-total-TTC",
    "raison-sociale",
    "raison-sociale-formateur",
    "recrutement",
    "reference-certification",
    "reference-code-CERTIFINFO",
    "reference-code-FORMACODE",
    "reference-code-RNCP",
    "reference-code-RS",
    "reference-module",
    "region",
    "renseignements-specifiques",
    "restauration",
    "resultats-attendus",
    "resume-offre",
    "resume-organisme",
    "resumes-offres",
    "resumes-organismes",
    "rythme-alternance",
    "rythme-formation",
    "session",
    "sous-module",
    "sous-modules",
    "telfixe",
    "transport",
    "type-alternance",
    "type-contact",
    "type-cycle",
    "type-enseignement",
    "type-equipement",
    "type-module",
    "unite-rythme-alternance",
    "unites-centre",
    "unites-entreprise",
    "url-action",
    "url-formation",
    "url-session",
    "urlweb",
    "validation-blocs",
    "ville",
    "web",
];

/// [`NOMS`] indexed by a cheap hash of the name (length, first and last bytes); most slots
/// hold one name, so a lookup is usually one comparison.
pub(super) static INDEX_NOMS: std::sync::LazyLock<Vec<Vec<u8>>> = std::sync::LazyLock::new(|| {
    let mut t = vec![Vec::new(); 512];
    for (i, n) in NOMS.iter().enumerate() {
        t[slot(n.as_bytes())].push(i as u8);
    }
    t
});

pub(super) fn slot(b: &[u8]) -> usize {
    match b {
        [] => 0,
        [f, .., l] => (b.len() * 37 + *f as usize * 7 + *l as usize * 3) % 512,
        [f] => (37 + *f as usize * 10) % 512,
    }
}

/// An element name: borrowed from [`NOMS`] when known.
pub(super) fn nom_element(name: &[u8]) -> Cow<'static, str> {
    let local = match memchr::memrchr(b':', name) {
        Some(i) => &name[i + 1..],
        None => name,
    };
    for &i in &INDEX_NOMS[slot(local)] {
        let n = NOMS[i as usize];
        if n.as_bytes() == local {
            return Cow::Borrowed(n);
        }
    }
    Cow::Owned(String::from_utf8_lossy(local).into_owned())
}

pub(super) fn local(name: &[u8]) -> String {
    let local = match memchr::memrchr(b':', name) {
        Some(i) => &name[i + 1..],
        None => name,
    };
    match std::str::from_utf8(local) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(local).into_owned(),
    }
}

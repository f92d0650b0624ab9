//! Database and role names: checked before any SQL, so nothing is built from unchecked text.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{property} {value:?} is not allowed: {why}")]
pub struct NameError {
    property: &'static str,
    value: String,
    why: &'static str,
}

const RESERVED_DATABASES: [&str; 4] = ["postgres", "template0", "template1", "rdsadmin"];

fn check(property: &'static str, name: &str) -> Result<(), NameError> {
    let error = |why| NameError {
        property,
        value: shared::properties::shorten(name),
        why,
    };
    let shape = "use 1 to 63 characters of a-z, 0-9 and _, starting with a letter or _";
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if !first_ok
        || name.len() > 63
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(error(shape));
    }
    Ok(())
}

pub fn database(name: &str) -> Result<(), NameError> {
    check("DatabaseName", name)?;
    if RESERVED_DATABASES.contains(&name) {
        return Err(NameError {
            property: "DatabaseName",
            value: name.to_owned(),
            why: "postgres, template0, template1 and rdsadmin belong to the cluster",
        });
    }
    Ok(())
}

pub fn role(name: &str) -> Result<(), NameError> {
    check("RoleName", name)?;
    if name.starts_with("pg_") || name.starts_with("rds") {
        return Err(NameError {
            property: "RoleName",
            value: name.to_owned(),
            why: "names starting with pg_ or rds are reserved",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_pass() {
        for name in ["orders", "_orders_2", "a", &"x".repeat(63)] {
            database(name).unwrap();
            role(name).unwrap();
        }
    }

    #[test]
    fn injection_and_odd_names_are_refused() {
        for name in [
            "orders\"; DROP DATABASE postgres; --",
            "Orders",
            "1orders",
            "",
            "or-ders",
            "ordérs",
            &"x".repeat(64),
        ] {
            let err = database(name).unwrap_err().to_string();
            assert!(err.starts_with("DatabaseName "), "{err}");
            assert!(err.contains("a-z, 0-9 and _"), "{err}");
        }
    }

    #[test]
    fn cluster_names_are_refused() {
        for name in ["postgres", "template0", "template1", "rdsadmin"] {
            assert!(
                database(name)
                    .unwrap_err()
                    .to_string()
                    .contains("belong to the cluster")
            );
        }
        for name in ["pg_monitor", "rdsadmin", "rds_superuser"] {
            assert!(role(name).unwrap_err().to_string().contains("reserved"));
        }
    }
}

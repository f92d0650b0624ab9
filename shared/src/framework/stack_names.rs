//! Which stacks may use something: stack names, or prefixes ending in `*`.

use super::resource::Owner;

/// A list of stack names and prefixes (`orders-*`; `*` alone: every stack).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StackNames {
    patterns: Vec<String>,
}

impl StackNames {
    /// From the patterns as given; empty ones are left out.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(patterns: I) -> Self {
        Self {
            patterns: patterns
                .into_iter()
                .map(Into::into)
                .map(|p: String| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
        }
    }

    /// From a comma-separated list, as a template parameter gives it.
    pub fn parse_list(list: &str) -> Self {
        Self::new(list.split(','))
    }

    /// Whether no stack at all is allowed.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the owner's stack name is allowed.
    pub fn allows(&self, owner: &Owner) -> bool {
        let stack = owner.stack_name();
        self.patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => stack.starts_with(prefix),
            None => stack == p,
        })
    }

    /// The patterns, comma-separated, for a reason.
    pub fn describe(&self) -> String {
        self.patterns.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(name: &str) -> Owner {
        Owner {
            stack_id: format!("arn:aws:cloudformation:us-east-1:1:stack/{name}/abc"),
            logical_resource_id: "R".into(),
        }
    }

    #[test]
    fn names_and_prefixes_allow_exactly_what_they_say() {
        let names = StackNames::parse_list(" orders-*, billing ,");
        assert!(names.allows(&owner("orders-api")));
        assert!(names.allows(&owner("billing")));
        assert!(!names.allows(&owner("billing-2")));
        assert!(!names.allows(&owner("order")));
        assert_eq!(names.describe(), "orders-*, billing");
        assert!(StackNames::parse_list("*").allows(&owner("anyone")));
        let none = StackNames::parse_list("");
        assert!(none.is_empty() && !none.allows(&owner("anyone")));
    }
}

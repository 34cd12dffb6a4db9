//! What `rmi` may do to an image (pure): Docker's rules for untagging and deleting, and its
//! refusals when a container uses the image. Removing by tag untags; the image goes with its
//! last tag unless a container still uses it. Removing by ID takes every tag with it, refused
//! (without `-f`) while the image is tagged more than once or used by a stopped container, and
//! refused even with `-f` while a running container uses it.
//!
//! A container keeps its own list of layers (and prune keeps its image's blobs), so deleting
//! an image a container uses never breaks the container; the refusals are Docker's, so that a
//! script sees the same answers.

use crate::digest::Digest;
use crate::reference::Reference;

/// A container and the image (ID) it was created from, as rmi weighs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUser {
    /// The full container ID.
    pub container: String,
    pub image: Digest,
    pub running: bool,
}

/// Why rmi refuses; messages are Docker's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeleteConflict {
    #[error(
        "conflict: unable to remove repository reference \"{reference}\" (must force) - \
         container {} is using its referenced image {}",
        short(container),
        image.short()
    )]
    ReferenceInUse {
        reference: String,
        container: String,
        image: Digest,
    },
    #[error(
        "conflict: unable to delete {} ({}) - {reason}",
        id.short(),
        if *hard { "cannot be forced" } else { "must be forced" }
    )]
    Image {
        id: Digest,
        /// Not even `-f` overrides it.
        hard: bool,
        reason: String,
    },
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// The edits to make: untag `untag` (in order), then delete the image (with whatever names it
/// still has) when `delete`; otherwise an image left without tags stays, untagged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletePlan {
    pub untag: Vec<Reference>,
    pub delete: bool,
}

/// Plans `rmi` of image `id` tagged `tags`, named by the user as `typed`; `named_tag` is the
/// tag `typed` stands for, `None` when it is an ID. `users` may list every container; only
/// those of image `id` count.
pub fn plan(
    named_tag: Option<&Reference>,
    typed: &str,
    tags: &[Reference],
    id: &Digest,
    users: &[ImageUser],
    force: bool,
) -> Result<DeletePlan, DeleteConflict> {
    let users: Vec<&ImageUser> = users.iter().filter(|u| u.image == *id).collect();
    let running = users.iter().find(|u| u.running);
    let stopped = users.iter().find(|u| !u.running);
    // Docker's "single reference": exactly one tag (digest names of its repository aside).
    let single = tags.len() == 1;
    match named_tag {
        Some(tag) => {
            if !force && single {
                if let Some(u) = users.first() {
                    return Err(DeleteConflict::ReferenceInUse {
                        reference: typed.to_string(),
                        container: u.container.clone(),
                        image: *id,
                    });
                }
            }
            let left = tags.iter().filter(|t| *t != tag).count();
            // The last tag gone, the image goes too unless a container uses it: a running
            // one always keeps it, a stopped one unless forced. Either way untagging stands.
            let delete = left == 0 && running.is_none() && (force || stopped.is_none());
            Ok(DeletePlan {
                untag: vec![tag.clone()],
                delete,
            })
        }
        None => {
            let conflict = |hard: bool, reason: String| DeleteConflict::Image {
                id: *id,
                hard,
                reason,
            };
            if let Some(u) = running {
                return Err(conflict(
                    true,
                    format!(
                        "image is being used by running container {}",
                        short(&u.container)
                    ),
                ));
            }
            if !force && tags.len() > 1 {
                return Err(conflict(
                    false,
                    "image is referenced in multiple repositories".into(),
                ));
            }
            if let (false, Some(u)) = (force, stopped) {
                return Err(conflict(
                    false,
                    format!(
                        "image is being used by stopped container {}",
                        short(&u.container)
                    ),
                ));
            }
            Ok(DeletePlan {
                untag: tags.to_vec(),
                delete: true,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C1: &str = "1a2b3c4d5e6f00000000000000000000000000000000000000000000000000aa";

    fn r(s: &str) -> Reference {
        Reference::parse(s).unwrap()
    }

    /// The outcome as one line: the refusal, or `untag a,b` and `+delete`.
    fn outcome(
        named: Option<&str>,
        typed: &str,
        tags: &[&str],
        users: &[(bool, bool)],
        force: bool,
    ) -> String {
        let id = Digest::of(b"image");
        let other = Digest::of(b"other");
        let tags: Vec<Reference> = tags.iter().map(|t| r(t)).collect();
        let named = named.map(r);
        // (uses this image, running)
        let users: Vec<ImageUser> = users
            .iter()
            .map(|&(this, running)| ImageUser {
                container: C1.into(),
                image: if this { id } else { other },
                running,
            })
            .collect();
        match plan(named.as_ref(), typed, &tags, &id, &users, force) {
            Ok(p) => {
                let untag: Vec<String> = p.untag.iter().map(|t| t.familiar_string()).collect();
                format!(
                    "untag {}{}",
                    untag.join(","),
                    if p.delete { " +delete" } else { "" }
                )
            }
            Err(e) => e.to_string().replace(&id.short(), "IMG"),
        }
    }

    /// (named tag, typed, tags, users as (uses this image, running), force, outcome)
    type Case<'a> = (
        Option<&'a str>,
        &'a str,
        &'a [&'a str],
        &'a [(bool, bool)],
        bool,
        &'a str,
    );

    #[test]
    fn rmi_plans_as_dockers() {
        let bb = Some("busybox:latest");
        let ref_in_use =
            "conflict: unable to remove repository reference \"busybox\" (must force) - \
                          container 1a2b3c4d5e6f is using its referenced image IMG";
        let cases: &[Case] = &[
            // By tag.
            (bb, "busybox", &["busybox"], &[], false, "untag busybox:latest +delete"),
            (bb, "busybox", &["busybox"], &[(false, true)], false, "untag busybox:latest +delete"),
            (bb, "busybox", &["busybox"], &[(true, false)], false, ref_in_use),
            (bb, "busybox", &["busybox"], &[(true, true)], false, ref_in_use),
            (bb, "busybox", &["busybox"], &[(true, false)], true, "untag busybox:latest +delete"),
            (bb, "busybox", &["busybox"], &[(true, true)], true, "untag busybox:latest"),
            (bb, "busybox", &["busybox", "b:2"], &[(true, true)], false, "untag busybox:latest"),
            (bb, "busybox", &["busybox", "b:2"], &[], false, "untag busybox:latest"),
            // By ID.
            (None, "IMG", &["busybox"], &[], false, "untag busybox:latest +delete"),
            (None, "IMG", &[], &[], false, "untag  +delete"),
            (
                None,
                "IMG",
                &["busybox"],
                &[(true, false)],
                false,
                "conflict: unable to delete IMG (must be forced) - image is being used by stopped container 1a2b3c4d5e6f",
            ),
            (None, "IMG", &["busybox"], &[(true, false)], true, "untag busybox:latest +delete"),
            (
                None,
                "IMG",
                &["busybox"],
                &[(true, true)],
                true,
                "conflict: unable to delete IMG (cannot be forced) - image is being used by running container 1a2b3c4d5e6f",
            ),
            (
                None,
                "IMG",
                &["busybox", "busybox:two"],
                &[],
                false,
                "conflict: unable to delete IMG (must be forced) - image is referenced in multiple repositories",
            ),
            (None, "IMG", &["busybox", "a/b:1"], &[], true, "untag busybox:latest,a/b:1 +delete"),
        ];
        for (named, typed, tags, users, force, want) in cases {
            assert_eq!(
                outcome(*named, typed, tags, users, *force),
                *want,
                "{named:?} {tags:?} {users:?} force={force}"
            );
        }
    }
}

//! `strata images --tree`: Docker 28's experimental tree view — each image once under its
//! names, its platforms' images (`├─ linux/amd64`) beneath, with the ID, DISK USAGE, CONTENT
//! SIZE and IN USE columns laid out as docker's CLI lays them (widths, alignment, the name
//! column as narrow as its widest entry, columns dropped on a narrow terminal). No colours: the
//! rows are the same on a terminal, only the width follows it.

use crate::engine::image_tree::TreeImage;

use super::format::human_size;

const SPACING: usize = 3;
const WARNING: &str =
    "WARNING: This is an experimental feature. The output may change and shouldn't be depended on.";
/// Docker measures the branch in bytes (`len("└─ ")`) but pads in runes: kept, so the name
/// column is as wide as docker's.
const BRANCH_BYTES: usize = "└─ ".len();

#[derive(Clone, Copy)]
enum Align {
    Left,
    Center,
    Right,
}

/// One detail column: title, width, alignment.
const COLUMNS: [(&str, usize, Align); 4] = [
    ("ID", 12, Align::Left),
    ("DISK USAGE", 10, Align::Right),
    ("CONTENT SIZE", 12, Align::Right),
    ("IN USE", 6, Align::Center),
];

/// The values of one row's detail columns.
struct Details {
    id: String,
    disk: String,
    content: String,
    in_use: bool,
}

impl Details {
    fn values(&self) -> [String; 4] {
        [
            self.id.clone(),
            self.disk.clone(),
            self.content.clone(),
            if self.in_use { "✔" } else { " " }.to_string(),
        ]
    }
}

fn pad(s: &str, width: usize, align: Align) -> String {
    let n = s.chars().count();
    if n > width {
        // Docker truncates to width-3 runes and an ellipsis.
        let cut: String = s.chars().take(width.saturating_sub(3)).collect();
        return format!("{cut}...");
    }
    let fill = width - n;
    match align {
        Align::Left => format!("{s}{}", " ".repeat(fill)),
        Align::Right => format!("{}{s}", " ".repeat(fill)),
        Align::Center => format!("{}{s}{}", " ".repeat(fill / 2), " ".repeat(fill - fill / 2)),
    }
}

/// The tree for a terminal `width` columns wide (docker uses 80 when stdout is not one).
pub fn render(images: &[TreeImage], width: usize) -> String {
    let width = width.max(20);
    // Detail columns while the name column keeps at least 12.
    let mut name_width = width;
    let mut shown = 0;
    for (_, w, _) in COLUMNS {
        if name_width < w + SPACING + 12 {
            break;
        }
        name_width -= w + SPACING;
        shown += 1;
    }
    let columns = &COLUMNS[..shown];
    let names = |img: &TreeImage| -> Vec<String> {
        img.names.iter().map(|r| r.familiar_string()).collect()
    };
    let widest = images
        .iter()
        .flat_map(|img| {
            let platforms = img
                .platforms
                .iter()
                .map(|p| p.platform.to_string().len() + BRANCH_BYTES);
            names(img)
                .into_iter()
                .map(|n| n.len())
                .chain(platforms)
                .collect::<Vec<_>>()
        })
        .fold("Image".len(), usize::max);
    let name_width = name_width.min(widest);
    let details = |d: &Details| -> String {
        columns
            .iter()
            .zip(d.values())
            .map(|((_, w, align), v)| format!("{}{}", " ".repeat(SPACING), pad(&v, *w, *align)))
            .collect()
    };

    let mut out = format!("{WARNING}\n\n");
    out.push_str(&pad("IMAGE", name_width, Align::Left));
    for (title, w, align) in columns {
        out.push_str(&" ".repeat(SPACING));
        out.push_str(&pad(title, *w, *align));
    }
    out.push('\n');
    for img in images {
        let mut names = names(img);
        if names.is_empty() {
            names.push("<untagged>".to_string());
        }
        let rows: Vec<String> = names
            .iter()
            .map(|n| pad(n, name_width, Align::Left))
            .collect();
        out.push_str(&rows.join("\n"));
        out.push_str(&details(&Details {
            id: img.id.short(),
            disk: human_size(img.disk_usage),
            content: human_size(img.content_size),
            in_use: img.in_use,
        }));
        out.push('\n');
        for (i, p) in img.platforms.iter().enumerate() {
            let branch = if i + 1 == img.platforms.len() {
                "└─ "
            } else {
                "├─ "
            };
            out.push_str(&pad(
                &format!("{branch}{}", p.platform),
                name_width,
                Align::Left,
            ));
            out.push_str(&details(&Details {
                id: p.id.short(),
                disk: human_size(p.disk_usage),
                content: human_size(p.content_size),
                in_use: p.in_use,
            }));
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::engine::image_tree::TreePlatform;
    use crate::plan::platform::Platform;
    use crate::reference::Reference;

    fn platform(p: &str, seed: &str, size: u64, in_use: bool) -> TreePlatform {
        TreePlatform {
            platform: Platform::parse(p).unwrap(),
            id: Digest::of(seed.as_bytes()),
            disk_usage: size,
            content_size: size + 1_000,
            in_use,
        }
    }

    fn image(names: &[&str], platforms: Vec<TreePlatform>) -> TreeImage {
        TreeImage {
            names: names.iter().map(|n| Reference::parse(n).unwrap()).collect(),
            id: Digest::of(names.join(",").as_bytes()),
            disk_usage: platforms.first().map_or(0, |p| p.disk_usage),
            content_size: platforms.iter().map(|p| p.content_size).sum(),
            in_use: platforms.iter().any(|p| p.in_use),
            created: None,
            platforms,
        }
    }

    #[test]
    fn an_index_shows_once_with_its_platforms_beneath() {
        let images = [
            image(
                &["mp:1", "registry.local:5000/team/mp:v1"],
                vec![
                    platform("linux/amd64", "a", 1_234_567, false),
                    platform("linux/arm64", "b", 2_000_000, true),
                ],
            ),
            image(&[], vec![platform("linux/amd64", "c", 999, false)]),
        ];
        let id = |s: &str| Digest::of(s.as_bytes()).short();
        // Docker's widths: the name column (28 on an 80-column terminal), ID 12 left, the
        // sizes 10 and 12 right, IN USE 6 centred, three spaces between.
        let row = |name: &str, id: &str, disk: &str, content: &str, used: &str| {
            format!("{name:<28}   {id:<12}   {disk:>10}   {content:>12}   {used:^6}\n")
        };
        let want = [
            format!("{WARNING}\n\n"),
            row("IMAGE", "ID", "DISK USAGE", "CONTENT SIZE", "IN USE"),
            // The widest name (30 columns) is cut to the 28 left: 25 and an ellipsis.
            format!("{:<28}\n", "mp:1"),
            row(
                "registry.local:5000/team/...",
                &id("mp:1,registry.local:5000/team/mp:v1"),
                "1.23MB",
                "3.24MB",
                "✔",
            ),
            // Padded by runes to 28, as docker pads.
            row("├─ linux/amd64", &id("a"), "1.23MB", "1.24MB", ""),
            row("└─ linux/arm64", &id("b"), "2MB", "2MB", "✔"),
            "\n".to_string(),
            row("<untagged>", &id(""), "999B", "2kB", ""),
            row("└─ linux/amd64", &id("c"), "999B", "2kB", ""),
            "\n".to_string(),
        ]
        .concat();
        let got = render(&images, 80);
        assert_eq!(got, want, "\n{got}");
    }

    #[test]
    fn the_name_column_is_as_narrow_as_its_widest_entry_and_columns_drop_when_narrow() {
        let images = [image(
            &["a:1"],
            vec![platform("linux/arm64", "x", 5, false)],
        )];
        let got = render(&images, 200);
        // "linux/arm64" plus docker's byte-length branch: 11 + 7 = 18 columns.
        let header = got.lines().nth(2).unwrap();
        assert_eq!(
            header,
            "IMAGE                ID             DISK USAGE   CONTENT SIZE   IN USE"
        );
        for (width, titles) in [(80, 5), (64, 5), (63, 4), (52, 3), (30, 2), (20, 1), (5, 1)] {
            let got = render(&images, width);
            let header = got.lines().nth(2).unwrap();
            let n = header.split("   ").filter(|t| !t.trim().is_empty()).count();
            assert_eq!(n, titles, "width {width}: {header:?}");
        }
    }
}

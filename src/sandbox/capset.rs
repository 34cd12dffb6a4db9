//! `capset(2)` for the sandbox's processes: permitted and effective sets from a list of
//! capability numbers, inheritable always empty (nix has no wrapper, libc no structs).

use nix::errno::Errno;

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct Header {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The two words of a capability bit mask.
pub fn mask(caps: &[u32]) -> [u32; 2] {
    let mut words = [0u32; 2];
    for &cap in caps.iter().filter(|c| **c < 64) {
        words[(cap / 32) as usize] |= 1 << (cap % 32);
    }
    words
}

/// Sets the calling thread's permitted and effective sets to `caps` (those of them it has:
/// `--privileged` asks for every capability, and a caller may lack some), inheritable to none.
pub fn set(caps: &[u32]) -> nix::Result<()> {
    let mut words = mask(caps);
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut current = [Data::default(); 2];
    // SAFETY: both pointers refer to live, correctly laid out structs of the v3 ABI.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut Header,
            current.as_mut_ptr(),
        )
    };
    Errno::result(ret)?;
    for (w, have) in words.iter_mut().zip(current) {
        *w &= have.permitted;
    }
    let data = [0, 1].map(|i| Data {
        effective: words[i],
        permitted: words[i],
        inheritable: 0,
    });
    // SAFETY: both pointers refer to live, correctly laid out structs of the v3 ABI.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    Errno::result(ret).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_split_across_words() {
        let cases: &[(&[u32], [u32; 2])] = &[
            (&[], [0, 0]),
            (&[0, 1], [0b11, 0]),
            (&[21], [1 << 21, 0]),
            (&[31, 32, 40], [1 << 31, 1 | 1 << 8]),
        ];
        for (caps, want) in cases {
            assert_eq!(mask(caps), *want, "{caps:?}");
        }
    }
}

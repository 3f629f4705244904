//! What can go wrong with a photo or its download, worded for the HR admin who has to fix it.

use super::allow::NotAllowed;

/// Why a photo could not be made ready for the terminals.
///
/// Every variant but [`PhotoError::Fetch`] and [`PhotoError::Internal`] means the photo
/// itself is unusable (the API reports those as `invalid_photo`, see
/// [`PhotoError::is_invalid_photo`]).
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhotoError {
    /// The photo could not be downloaded.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The file is not a JPEG, PNG or WebP picture.
    #[error("{}", not_an_image(.detected))]
    NotAnImage {
        /// What the file looks like instead, when recognisable (for example "HEIC" or "text").
        detected: Option<&'static str>,
    },
    /// The file starts like a picture but cannot be decoded.
    #[error(
        "The {format} photo is damaged and cannot be read ({detail}); upload the photo again or \
         export it anew as JPEG."
    )]
    Corrupt {
        /// The format the file claims to be.
        format: ImageFormat,
        /// What the decoder reported.
        detail: String,
    },
    /// The picture is smaller than terminals can use.
    #[error(
        "The photo is {width} x {height} pixels; door terminals need at least {min_side} pixels \
         on each side. Upload a larger photo."
    )]
    TooSmall {
        /// Width after orientation.
        width: u32,
        /// Height after orientation.
        height: u32,
        /// The smallest side accepted.
        min_side: u32,
    },
    /// The picture is so long and narrow that, scaled into the envelope, its short side would be
    /// under the minimum.
    #[error(
        "The photo is {width} x {height} pixels, too long and narrow: fitted into {max_side} \
         pixels it would be under {min_side} pixels on its short side. Crop it closer to the face."
    )]
    BadAspect {
        /// Width after orientation.
        width: u32,
        /// Height after orientation.
        height: u32,
        /// The longest side sent to terminals.
        max_side: u32,
        /// The smallest side accepted.
        min_side: u32,
    },
    /// The picture declares more pixels than we decode (possibly a decompression bomb).
    #[error(
        "The photo declares {width} x {height} pixels, more than the {max_megapixels} megapixels \
         accepted; upload a smaller photo."
    )]
    TooManyPixels {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The limit, in megapixels.
        max_megapixels: u64,
    },
    /// The source file is larger than accepted.
    #[error(
        "The photo file is {size} bytes, more than the {limit} bytes accepted; upload a smaller \
         photo."
    )]
    SourceTooLarge {
        /// Size of the file.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Even at the lowest quality and smallest size the JPEG stays above the byte limit.
    #[error(
        "The photo cannot be made smaller than {max_bytes} bytes without going under the minimum \
         size; upload a simpler photo (a plain background helps)."
    )]
    CannotFit {
        /// The byte limit.
        max_bytes: usize,
    },
    /// A fault of the service, not of the photo (a worker stopped unexpectedly).
    #[error("The photo could not be processed because of an internal error ({0}); try again.")]
    Internal(String),
}

impl PhotoError {
    /// True when the photo itself is unusable (reported as `invalid_photo`); false for download
    /// problems and internal faults.
    pub fn is_invalid_photo(&self) -> bool {
        !matches!(self, Self::Fetch(_) | Self::Internal(_))
    }
}

fn not_an_image(detected: &Option<&'static str>) -> String {
    match detected {
        Some(what) => format!(
            "The photo is a {what} file, not a JPEG, PNG or WebP picture; export it as JPEG and \
             upload it again."
        ),
        None => "The photo is not a JPEG, PNG or WebP picture; export it as JPEG and upload it \
                 again."
            .to_owned(),
    }
}

impl FetchError {
    /// A passing condition (timeout, unreachable, 408, 429, 5xx): worth trying again later.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Unreachable { .. } => true,
            Self::Status { status, .. } => *status >= 500 || matches!(status, 408 | 429),
            _ => false,
        }
    }
}

/// The source formats the service decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// JPEG (JFIF/Exif).
    Jpeg,
    /// PNG.
    Png,
    /// WebP (lossy or lossless).
    WebP,
}

impl std::fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::WebP => "WebP",
        })
    }
}

/// Why a photo could not be downloaded. Messages name the photo without query strings and
/// never contain the service key.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    /// 404 (or Storage's "not_found"): the file is not there.
    #[error("The photo {photo} was not found; upload the photo again.")]
    NotFound {
        /// The photo, as described by [`PhotoSource::describe`].
        photo: String,
    },
    /// 401 or 403: the server refused us.
    #[error(
        "The photo server refused access to {photo} (HTTP {status}); check that the photo is \
         public or that SUPABASE_SERVICE_ROLE_KEY is right."
    )]
    Forbidden {
        /// The photo.
        photo: String,
        /// HTTP status.
        status: u16,
    },
    /// No complete answer within the timeout.
    #[error("Downloading the photo {photo} took longer than {seconds} s; try again later.")]
    Timeout {
        /// The photo.
        photo: String,
        /// The timeout, in seconds.
        seconds: u64,
    },
    /// The file is larger than accepted.
    #[error("The photo {photo} is larger than {limit} bytes; upload a smaller photo.")]
    TooLarge {
        /// The photo.
        photo: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The server could not be reached.
    #[error("The photo server for {photo} could not be reached ({reason}); try again later.")]
    Unreachable {
        /// The photo.
        photo: String,
        /// What failed (connection refused, DNS, TLS...).
        reason: String,
    },
    /// The server redirected to another origin; the redirect was not followed (it could lead
    /// anywhere, and a Storage request would carry the key there).
    #[error(
        "The photo server sent the download of {photo} to another server (HTTP {status}); the \
         service follows redirects only within the same server. Store the photo's final address."
    )]
    Redirected {
        /// The photo.
        photo: String,
        /// The redirect's HTTP status.
        status: u16,
    },
    /// The allow-list does not let the service download this photo (nothing was connected to).
    #[error("The service does not fetch the photo {photo}: {why}.")]
    NotAllowed {
        /// The photo.
        photo: String,
        /// Which rule refused it, and the setting that would allow it.
        why: NotAllowed,
    },
    /// Any other unexpected HTTP status.
    #[error("The photo server answered HTTP {status} for {photo}; try again later.")]
    Status {
        /// The photo.
        photo: String,
        /// HTTP status.
        status: u16,
    },
    /// The photo value cannot be turned into a download.
    #[error("The photo address is not usable: {reason}. Upload the photo again.")]
    InvalidSource {
        /// What is wrong with it.
        reason: String,
    },
    /// A Storage path was given but the service has no Supabase settings.
    #[error("The photo {photo} is in Supabase Storage but SUPABASE_URL is not configured.")]
    NoStorage {
        /// The photo.
        photo: String,
    },
}

//! How the photo reaches the terminals in one run (`PHOTO_DELIVERY`): decided once per request,
//! whatever the number of terminals (the picture service fetches and encodes once, cached).

use hikvision_isapi::{FacePicture, PushedJpeg};

use crate::config::PhotoTransferMode;
use crate::models::{ServiceCode, SyncResult, SyncStatus, SyncStep};
use crate::photo::{FaceUrlPolicy, FetchError, PhotoError, PhotoService, PhotoSource};

/// The photo as every terminal of this run gets it.
#[derive(Debug, Clone)]
pub struct PlannedPhoto {
    /// What is sent first: a URL the terminal downloads, or the processed JPEG pushed.
    pub primary: FacePicture,
    /// The processed JPEG, pushed instead when a terminal cannot download the URL.
    pub push_fallback: Option<PushedJpeg>,
    /// Said in every terminal's message (why the photo went by URL after all).
    pub note: Option<String>,
}

/// The picture service with the delivery mode in force.
#[derive(Clone)]
pub struct PhotoPlanner {
    service: PhotoService,
    mode: PhotoTransferMode,
    bucket: String,
}

impl std::fmt::Debug for PhotoPlanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhotoPlanner")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

fn skip(message: String, code: ServiceCode) -> SyncResult {
    SyncResult::new(SyncStatus::Skipped, SyncStep::Photo, message).with_code(code)
}

impl PhotoPlanner {
    /// `service` delivering as `mode`; bare photo paths live in `bucket`.
    pub fn new(service: PhotoService, mode: PhotoTransferMode, bucket: String) -> Self {
        Self {
            service,
            mode,
            bucket,
        }
    }

    /// Decides how the stored photo value `raw` goes out; `Err` is the result every terminal
    /// gets instead (an unusable photo: no terminal is called).
    pub async fn plan(
        &self,
        raw: &str,
        face_urls: &FaceUrlPolicy,
    ) -> Result<PlannedPhoto, SyncResult> {
        let by_url = |note: Option<String>| match face_urls.resolve(raw) {
            Ok(url) => Ok(PlannedPhoto {
                primary: FacePicture::Url(url),
                push_fallback: None,
                note,
            }),
            Err(e) => Err(skip(format!("Skipped: {e}"), ServiceCode::InvalidPhotoUrl)),
        };
        if self.mode == PhotoTransferMode::Url {
            return by_url(None);
        }
        let source = match PhotoSource::parse(raw, &self.bucket) {
            Ok(source) => source,
            Err(e) => return Err(skip(format!("Skipped: {e}"), ServiceCode::InvalidPhotoUrl)),
        };
        match self.service.prepare(&source).await {
            Ok(prepared) => {
                let jpeg = PushedJpeg::new(prepared.picture.jpeg.clone());
                let original_fits =
                    self.mode == PhotoTransferMode::Auto && prepared.deliver_by_url().is_some();
                if original_fits && let Ok(url) = face_urls.resolve(raw) {
                    return Ok(PlannedPhoto {
                        primary: FacePicture::Url(url),
                        push_fallback: Some(jpeg),
                        note: None,
                    });
                }
                Ok(PlannedPhoto {
                    primary: FacePicture::Jpeg(jpeg),
                    push_fallback: None,
                    note: None,
                })
            }
            Err(e) if e.is_invalid_photo() => Err(skip(
                format!("Skipped: the photo cannot be used: {e}"),
                ServiceCode::InvalidPhoto,
            )),
            // Outside the allow-list: the terminals may download it themselves (the owner's
            // flow) when the URL fits `faceURL`; otherwise nothing can deliver it.
            Err(PhotoError::Fetch(e @ FetchError::NotAllowed { .. })) => {
                match face_urls.resolve(raw) {
                    Ok(url) => Ok(PlannedPhoto {
                        primary: FacePicture::Url(url),
                        push_fallback: None,
                        note: Some(format!(" (sent by URL: {e})")),
                    }),
                    Err(why) => Err(skip(
                        format!("Skipped: {e} It cannot go to the terminals by URL either: {why}"),
                        ServiceCode::InvalidPhoto,
                    )),
                }
            }
            // A host only the terminals reach: they may still download it themselves.
            Err(e) => by_url(Some(format!(
                " (sent by URL: the service could not fetch the photo itself: {e})"
            ))),
        }
    }
}

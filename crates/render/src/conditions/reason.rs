//! The reasons of the conditions the operator writes, as the reference spells them
//! (some with spaces: the reference's storage drivers wrote those, and alerts and
//! scripts match them).

/// Declares [`Reason`] with each variant's string.
macro_rules! reasons {
    ($($variant:ident = $text:literal,)*) => {
        /// Why a condition is as it is.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum Reason {
            $($variant,)*
            /// A reason the operator does not choose: the error code a cloud answered, or
            /// the reasons of other conditions joined (`ClusterOperator` aggregation).
            Other(String),
        }

        impl Reason {
            /// The reason as written into a condition.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Reason::$variant => $text,)*
                    Reason::Other(s) => s,
                }
            }

            /// The reason a condition was written with.
            pub fn parse(s: &str) -> Reason {
                match s {
                    $($text => Reason::$variant,)*
                    other => Reason::Other(other.to_string()),
                }
            }
        }
    };
}

reasons! {
    Unset = "",
    AsExpected = "AsExpected",
    Ready = "Ready",
    Removed = "Removed",
    Unmanaged = "Unmanaged",
    Error = "Error",
    Progressing = "Progressing",
    Complete = "Complete",
    MinimumAvailability = "MinimumAvailability",
    NoReplicasAvailable = "NoReplicasAvailable",
    NoAvailableReplicas = "NoAvailableReplicas",
    DeploymentNotFound = "DeploymentNotFound",
    DeploymentDeleted = "DeploymentDeleted",
    DeploymentNotCompleted = "DeploymentNotCompleted",
    DeletingDeployment = "DeletingDeployment",
    FinalizingDeployment = "FinalizingDeployment",
    WaitingForDeployment = "WaitingForDeployment",
    ProgressDeadlineExceeded = "ProgressDeadlineExceeded",
    Unavailable = "Unavailable",
    RouteDegraded = "RouteDegraded",
    SyncError = "SyncError",
    JobFailed = "JobFailed",
    Scheduled = "Scheduled",
    Suspended = "Suspended",
    NotFound = "NotFound",
    PlatformUnknown = "PlatformUnknown",
    RemoveFailed = "RemoveFailed",
    Removing = "Removing",
    VerificationFailed = "VerificationFailed",
    StorageNotConfigured = "StorageNotConfigured",
    TrustedCANotFound = "TrustedCANotFound",
    UserManaged = "UserManaged",
    PvcCreated = "PVC Created",
    PvcExists = "PVC Exists",
    PvcAlreadyExists = "PVC Already Exists",
    PvcIssuesFound = "PVC Issues Found",
    PvcDoesNotExist = "PVC does not exist",
    CreationSuccessful = "Creation Successful",
    CreationFailed = "Creation Failed",
    EncryptionSuccessful = "Encryption Successful",
    BucketLabeledSuccessfully = "Bucket Labeled Successfully",
    UnableToAccessBucket = "Unable to Access Bucket",
    UnknownErrorOccurred = "Unknown Error Occurred",
    UnknownErrorOccurredSwift = "Unknown error occurred",
    S3BucketExists = "S3 Bucket Exists",
    S3BucketDeleted = "S3 Bucket Deleted",
    GcsBucketExists = "GCS Bucket Exists",
    GcsBucketDeleted = "GCS Bucket Deleted",
    IbmCosBucketExists = "IBM COS Bucket Exists",
    IbmCosBucketDeleted = "IBM COS Bucket Deleted",
    SwiftContainerCreated = "Swift Container Created",
    SwiftContainerDeleted = "Swift Container Deleted",
    SwiftContainerExists = "Swift container Exists",
    SwiftContainerExistsLower = "Container exists",
    ContainerExists = "ContainerExists",
    ContainerDeleted = "ContainerDeleted",
    ContainerNotFound = "ContainerNotFound",
    AccountDeleted = "AccountDeleted",
    AzureError = "AzureError",
    TaggingSuccessful = "Tagging Successful",
    PublicAccessBlockSuccessful = "Public Access Block Successful",
    EnableCleanupSuccessful = "Enable Cleanup Successful",
    CouldNotConnect = "Could not connect to registry storage",
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Reason {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn every_reason_reads_back_as_itself() {
        for r in [
            Reason::Unset,
            Reason::AsExpected,
            Reason::PvcAlreadyExists,
            Reason::SwiftContainerExistsLower,
        ] {
            assert_eq!(Reason::parse(r.as_str()), r);
        }
        assert_eq!(Reason::PvcAlreadyExists.as_str(), "PVC Already Exists");
        assert_eq!(Reason::IbmCosBucketExists.as_str(), "IBM COS Bucket Exists");
        assert_eq!(Reason::parse("NoSuchBucket"), Reason::Other("NoSuchBucket".into()));
    }
}

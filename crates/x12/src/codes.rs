//! Acknowledgment code tables (TA1, 997), taken from the X12 code lists of the data elements
//! named on each type. Every finding the parser and validator produce maps to one of these.

use std::fmt;

macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal, $desc:literal; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = $desc] $variant, )+
        }

        impl $name {
            /// Every code of the table, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The code as written in the X12 element.
            pub const fn code(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            /// The standard description of the code.
            pub const fn description(self) -> &'static str {
                match self { $($name::$variant => $desc,)+ }
            }

            /// Looks a code up by its X12 value.
            pub fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} ({})", self.code(), self.description())
            }
        }
    };
}

code_enum! {
    /// TA105, data element I18 "Interchange Note Code".
    ///
    /// Note that 016 is an invalid ISA11 standards identifier, 020 an invalid ISA15 test
    /// indicator and 025 a duplicate interchange control number (the real code table, not the
    /// shorthand sometimes quoted).
    Ta1Note {
        NoError = "000", "No error";
        ControlNumberMismatch = "001", "The Interchange Control Number in the Header and Trailer Do Not Match. The Value From the Header is Used in the Acknowledgment";
        StandardNotSupported = "002", "This Standard as Noted in the Control Standards Identifier is Not Supported";
        VersionNotSupported = "003", "This Version of the Controls is Not Supported";
        InvalidSegmentTerminator = "004", "The Segment Terminator is Invalid";
        InvalidSenderQualifier = "005", "Invalid Interchange ID Qualifier for Sender";
        InvalidSenderId = "006", "Invalid Interchange Sender ID";
        InvalidReceiverQualifier = "007", "Invalid Interchange ID Qualifier for Receiver";
        InvalidReceiverId = "008", "Invalid Interchange Receiver ID";
        UnknownReceiverId = "009", "Unknown Interchange Receiver ID";
        InvalidAuthorizationQualifier = "010", "Invalid Authorization Information Qualifier Value";
        InvalidAuthorizationValue = "011", "Invalid Authorization Information Value";
        InvalidSecurityQualifier = "012", "Invalid Security Information Qualifier Value";
        InvalidSecurityValue = "013", "Invalid Security Information Value";
        InvalidDate = "014", "Invalid Interchange Date Value";
        InvalidTime = "015", "Invalid Interchange Time Value";
        InvalidStandardsIdentifier = "016", "Invalid Interchange Standards Identifier Value";
        InvalidVersionId = "017", "Invalid Interchange Version ID Value";
        InvalidControlNumber = "018", "Invalid Interchange Control Number Value";
        InvalidAckRequested = "019", "Invalid Acknowledgment Requested Value";
        InvalidTestIndicator = "020", "Invalid Test Indicator Value";
        InvalidGroupCount = "021", "Invalid Number of Included Groups Value";
        InvalidControlStructure = "022", "Invalid Control Structure";
        PrematureEndOfFile = "023", "Improper (Premature) End-of-File (Transmission)";
        InvalidContent = "024", "Invalid Interchange Content (e.g., Invalid GS Segment)";
        DuplicateControlNumber = "025", "Duplicate Interchange Control Number";
        InvalidElementSeparator = "026", "Invalid Data Element Separator";
        InvalidComponentSeparator = "027", "Invalid Component Element Separator";
        InvalidDeliveryDate = "028", "Invalid Delivery Date in Deferred Delivery Request";
        InvalidDeliveryTime = "029", "Invalid Delivery Time in Deferred Delivery Request";
        InvalidDeliveryTimeCode = "030", "Invalid Delivery Time Code in Deferred Delivery Request";
        InvalidGradeOfService = "031", "Invalid Grade of Service Code";
    }
}

code_enum! {
    /// TA104, data element I17 "Interchange Acknowledgment Code".
    Ta1Status {
        Accepted = "A", "Interchange accepted with no errors";
        AcceptedWithErrors = "E", "Interchange accepted, but errors were noted";
        Rejected = "R", "Interchange rejected because of errors";
    }
}

code_enum! {
    /// AK304, data element 720 "Segment Syntax Error Code".
    SegmentErrorCode {
        UnrecognizedSegmentId = "1", "Unrecognized segment ID";
        UnexpectedSegment = "2", "Unexpected segment";
        MandatorySegmentMissing = "3", "Mandatory segment missing";
        LoopOverMaximum = "4", "Loop occurs over maximum times";
        SegmentExceedsMaximumUse = "5", "Segment exceeds maximum use";
        NotInTransactionSet = "6", "Segment not in defined transaction set";
        OutOfSequence = "7", "Segment not in proper sequence";
        DataElementErrors = "8", "Segment has data element errors";
    }
}

code_enum! {
    /// AK403, data element 723 "Data Element Syntax Error Code" (12 and 13 exist from 005010).
    ElementErrorCode {
        MandatoryMissing = "1", "Mandatory data element missing";
        ConditionalMissing = "2", "Conditional required data element missing";
        TooMany = "3", "Too many data elements";
        TooShort = "4", "Data element too short";
        TooLong = "5", "Data element too long";
        InvalidCharacter = "6", "Invalid character in data element";
        InvalidCodeValue = "7", "Invalid code value";
        InvalidDate = "8", "Invalid date";
        InvalidTime = "9", "Invalid time";
        ExclusionViolated = "10", "Exclusion condition violated";
        TooManyRepetitions = "12", "Too many repetitions";
        TooManyComponents = "13", "Too many components";
    }
}

code_enum! {
    /// AK501, data element 717 "Transaction Set Acknowledgment Code".
    SetAckCode {
        Accepted = "A", "Accepted";
        AcceptedWithErrors = "E", "Accepted but errors were noted";
        RejectedMac = "M", "Rejected, message authentication code (MAC) failed";
        Rejected = "R", "Rejected";
        RejectedValidity = "W", "Rejected, assurance failed validity tests";
        RejectedDecryption = "X", "Rejected, content after decryption could not be analyzed";
    }
}

code_enum! {
    /// AK502..AK506, data element 718 "Transaction Set Syntax Error Code".
    SetErrorCode {
        NotSupported = "1", "Transaction set not supported";
        TrailerMissing = "2", "Transaction set trailer missing";
        ControlNumberMismatch = "3", "Transaction set control number in header and trailer do not match";
        SegmentCountMismatch = "4", "Number of included segments does not match actual count";
        SegmentsInError = "5", "One or more segments in error";
        InvalidIdentifier = "6", "Missing or invalid transaction set identifier";
        InvalidControlNumber = "7", "Missing or invalid transaction set control number";
        AuthenticationKeyUnknown = "8", "Authentication key name unknown";
        EncryptionKeyUnknown = "9", "Encryption key name unknown";
        ServiceNotAvailable = "10", "Requested service (authentication or encrypted) not available";
        UnknownSecurityRecipient = "11", "Unknown security recipient";
        IncorrectMessageLength = "12", "Incorrect message length (encryption only)";
        MacFailed = "13", "Message authentication code failed";
        UnknownSecurityOriginator = "15", "Unknown security originator";
        DecryptedSyntaxError = "16", "Syntax error in decrypted text";
        SecurityNotSupported = "17", "Security not supported";
        NotInFunctionalGroup = "18", "Transaction set not in functional group";
        InvalidImplementationReference = "19", "Invalid transaction set implementation convention reference";
        DuplicateControlNumber = "23", "Transaction set control number not unique within the functional group";
        S3eMissing = "24", "S3E security end segment missing for S3S security start segment";
        S3sMissing = "25", "S3S security start segment missing for S3E security end segment";
        S4eMissing = "26", "S4E security end segment missing for S4S security start segment";
        S4sMissing = "27", "S4S security start segment missing for S4E security end segment";
    }
}

code_enum! {
    /// AK901, data element 715 "Functional Group Acknowledge Code".
    GroupAckCode {
        Accepted = "A", "Accepted";
        AcceptedWithErrors = "E", "Accepted, but errors were noted";
        RejectedMac = "M", "Rejected, message authentication code (MAC) failed";
        PartiallyAccepted = "P", "Partially accepted, at least one transaction set was rejected";
        Rejected = "R", "Rejected";
        RejectedValidity = "W", "Rejected, assurance failed validity tests";
        RejectedDecryption = "X", "Rejected, content after decryption could not be analyzed";
    }
}

code_enum! {
    /// AK905..AK909, data element 716 "Functional Group Syntax Error Code".
    GroupErrorCode {
        NotSupported = "1", "Functional group not supported";
        VersionNotSupported = "2", "Functional group version not supported";
        TrailerMissing = "3", "Functional group trailer missing";
        ControlNumberMismatch = "4", "Group control number in the functional group header and trailer do not agree";
        SetCountMismatch = "5", "Number of included transaction sets does not match actual count";
        InvalidControlNumber = "6", "Group control number violates syntax";
        AuthenticationKeyUnknown = "10", "Authentication key name unknown";
        EncryptionKeyUnknown = "11", "Encryption key name unknown";
        ServiceNotAvailable = "12", "Requested service (authentication or encryption) not available";
        UnknownSecurityRecipient = "13", "Unknown security recipient";
        UnknownSecurityOriginator = "14", "Unknown security originator";
        DecryptedSyntaxError = "15", "Syntax error in decrypted text";
        SecurityNotSupported = "16", "Security not supported";
        IncorrectMessageLength = "17", "Incorrect message length (encryption only)";
        MacFailed = "18", "Message authentication code failed";
        DuplicateControlNumber = "19", "Functional group control number not unique within interchange";
        S3eMissing = "23", "S3E security end segment missing for S3S security start segment";
        S3sMissing = "24", "S3S security start segment missing for S3E end segment";
        S4eMissing = "25", "S4E security end segment missing for S4S security start segment";
        S4sMissing = "26", "S4S security start segment missing for S4E security end segment";
    }
}

code_enum! {
    /// BEG01 / BAK01, data element 353 "Transaction Set Purpose Code": the values this
    /// gateway's implementation guideline accepts on purchase orders and their
    /// acknowledgments (any other value is reported as AK403 7, invalid code value).
    Purpose {
        Original = "00", "Original";
        Cancellation = "01", "Cancellation";
        Add = "02", "Add";
        Delete = "03", "Delete";
        Change = "04", "Change";
        Replace = "05", "Replace";
        Confirmation = "06", "Confirmation";
        Duplicate = "07", "Duplicate";
        Reissue = "18", "Reissue";
        InformationCopy = "22", "Information copy";
    }
}

code_enum! {
    /// BAK02, data element 587 "Acknowledgment Type".
    PoAckType {
        AcknowledgeWithDetailAndChange = "AC", "Acknowledge - with detail and change";
        AcknowledgeWithDetailNoChange = "AD", "Acknowledge - with detail, no change";
        AcknowledgeWithExceptionDetail = "AE", "Acknowledge - with exception detail only";
        AcknowledgeHoldStatus = "AH", "Acknowledge - hold status";
        AcknowledgeNoDetailOrChange = "AK", "Acknowledge - no detail or change";
        AcknowledgeProductReplenishment = "AP", "Acknowledge - product replenishment";
        Accepted = "AT", "Accepted";
        NoAcknowledgmentNeeded = "NA", "No acknowledgment needed";
        RejectWithDetail = "RD", "Reject with detail";
        RejectWithExceptionDetail = "RF", "Reject with exception detail only";
        RejectNoDetail = "RJ", "Rejected - no detail";
        RejectedCounterOffer = "RO", "Rejected with counter offer";
        MutuallyDefined = "ZZ", "Mutually defined";
    }
}

code_enum! {
    /// ACK01, data element 668 "Line Item Status Code".
    LineStatus {
        AcceptedAndShipped = "AC", "Item accepted and shipped";
        AcceptedReleased = "AR", "Item accepted and released for shipment";
        PartialBackordered = "BP", "Item accepted - partial shipment, balance backordered";
        DateRescheduled = "DR", "Item accepted - date rescheduled";
        Accepted = "IA", "Item accepted";
        Backordered = "IB", "Item backordered";
        AcceptedChanged = "IC", "Item accepted - changes made";
        Deleted = "ID", "Item deleted";
        OnHoldIncompleteDescription = "IF", "Item on hold, incomplete description";
        OnHold = "IH", "Item on hold";
        PriceChanged = "IP", "Item accepted - price changed";
        QuantityChanged = "IQ", "Item accepted - quantity changed";
        Rejected = "IR", "Item rejected";
        Substituted = "IS", "Item accepted - substitution made";
        OnHoldWaiver = "IW", "Item on hold - waiver required";
        NotContractItem = "R1", "Item rejected, not a contract item";
        InvalidProductNumber = "R2", "Item rejected, invalid item product number";
        InvalidUnitOfIssue = "R3", "Item rejected, invalid unit of issue";
        ContractItemNotAvailable = "R4", "Item rejected, contract item not available";
        SchedulePending = "SP", "Item accepted - schedule date pending";
    }
}

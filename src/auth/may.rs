//! Who may do what: the one place the role rules live. The API handlers and the staff pages
//! both check against these sets, so a page never allows what the API refuses.

use super::Role;
use Role::{Admin, Auditor, Clerk, Finance, Supervisor, Treasury};

/// Take a payment at the counter.
pub const TAKE_PAYMENT: &[Role] = &[Clerk];
/// Read payments and receipts.
pub const READ_PAYMENTS: &[Role] = &[Clerk, Finance, Supervisor, Auditor];
/// Void a same-day payment.
pub const VOID_PAYMENT: &[Role] = &[Clerk, Supervisor];
/// Ask for a refund.
pub const REQUEST_REFUND: &[Role] = &[Clerk, Supervisor];
/// Approve a refund (four eyes).
pub const APPROVE_REFUND: &[Role] = &[Supervisor];
/// Reject a refund that waits for approval.
pub const REJECT_REFUND: &[Role] = &[Supervisor];
/// Cancel a refund that waits for approval (the use case admits only its requester, and
/// finance).
pub const CANCEL_REFUND: &[Role] = &[Clerk, Supervisor, Finance];
/// Read refunds.
pub const READ_REFUNDS: &[Role] = &[Clerk, Finance, Supervisor, Auditor];
/// Read the ledger: accounts, statements, trial balance, chain check.
pub const READ_LEDGER: &[Role] = &[Finance, Supervisor, Auditor];
/// Post or reverse a manual entry.
pub const POST_MANUAL_ENTRY: &[Role] = &[Supervisor];
/// Open a sub-account in the chart of accounts.
pub const OPEN_ACCOUNT: &[Role] = &[Admin];
/// Change the fee catalogue.
pub const CHANGE_CATALOGUE: &[Role] = &[Admin];
/// Read the fee catalogue (every signed-in role).
pub const READ_CATALOGUE: &[Role] = &[Clerk, Finance, Supervisor, Auditor, Treasury, Admin];
/// Import settlement files and statements.
pub const IMPORT_FILES: &[Role] = &[Finance];
/// Read imported files and the specs.
pub const READ_FILES: &[Role] = &[Finance, Supervisor, Auditor];
/// Run a reconciliation.
pub const RECONCILE: &[Role] = &[Finance];
/// Read runs, exceptions and reports.
pub const READ_RECONCILIATION: &[Role] = &[Finance, Supervisor, Auditor];
/// Resolve an exception, or approve another's resolution (the use case checks the four eyes).
pub const RESOLVE_EXCEPTION: &[Role] = &[Finance, Supervisor];
/// Close a business day.
pub const CLOSE_DAY: &[Role] = &[Finance, Supervisor];
/// Read a day's state and seal.
pub const READ_DAYS: &[Role] = &[Finance, Supervisor, Auditor];
/// Prepare a remittance batch.
pub const PREPARE_REMITTANCE: &[Role] = &[Finance];
/// Approve a remittance batch (someone other than who prepared it).
pub const APPROVE_REMITTANCE: &[Role] = &[Supervisor];
/// Read remittance batches, their files and the supervision check.
pub const READ_REMITTANCES: &[Role] = &[Finance, Supervisor, Auditor];
/// Pull and acknowledge remittances (requests also HMAC-signed).
pub const TREASURY: &[Role] = &[Treasury];
/// Read the supervisor's queue: refunds, write-offs and batches waiting for a second person
/// (those who approve one of them, and the auditor).
pub const READ_APPROVALS: &[Role] = &[Finance, Supervisor, Auditor];
/// Read the audit log.
pub const READ_AUDIT_LOG: &[Role] = &[Supervisor, Auditor, Admin];
/// Read the concessions (优惠政策) granted: supervision of reduced and waived fees.
pub const READ_CONCESSIONS: &[Role] = &[Finance, Supervisor, Auditor];
/// List, revoke and disable API tokens and staff users; reset a staff user's password.
pub const MANAGE_ACCESS: &[Role] = &[Admin];

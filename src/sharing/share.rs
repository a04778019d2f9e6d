//! The stack's share in a region: found by its name and tag, made when there is none.

use tracing::info;

use super::{SHARE_TAG, create_token, share_name};
use crate::error::AwsError;
use crate::ports::ShareApi;
use crate::time::EpochSeconds;

/// The ARN of the stack's share in `region` (the oldest, should a race have made two), made
/// with `accounts` as its principals when there is none.
pub async fn ensure_share<S: ShareApi>(
    shares: &S,
    region: &str,
    stack_name: &str,
    accounts: &[String],
    now: EpochSeconds,
) -> Result<String, AwsError> {
    let name = share_name(stack_name);
    let tag = (SHARE_TAG, stack_name);
    if let Some(arn) = shares.find_shares(region, &name, tag).await?.into_iter().next() {
        return Ok(arn);
    }
    let token = create_token(stack_name, region, now);
    let arn = shares.create_share(region, &name, tag, accounts, &token).await?;
    info!(destination_region = region, resource_share_arn = %arn, "resource share made");
    Ok(arn)
}

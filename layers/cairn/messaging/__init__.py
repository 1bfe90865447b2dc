"""Messages to patients, one seam for every way they leave: email through SES and SMS through
SNS in AWS (`aws`), or the visible outbox in the documents bucket (`outbox`) on a laptop and in
tests. Which one is configuration (`DeliverySettings`), validated at cold start."""

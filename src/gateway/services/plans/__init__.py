"""Plans: the tiers and their cache (`book`), what they entitle a request to
(`entitlements`), and a customer's periods on one (`periods`)."""

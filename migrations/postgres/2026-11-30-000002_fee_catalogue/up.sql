-- The fee catalogue: one row per version of an item. A change is a new version; a version is
-- never altered, because payments record the version they were charged under.
CREATE TABLE fee_items (
    code              TEXT NOT NULL,
    version           BIGINT NOT NULL CHECK (version > 0),
    name              TEXT NOT NULL,
    department        TEXT NOT NULL,
    revenue_subject   TEXT NOT NULL,
    legal_document    TEXT NOT NULL,
    legal_article     TEXT,
    pricing_kind      TEXT NOT NULL CHECK (pricing_kind IN ('fixed', 'per_unit', 'range')),
    -- fixed: the amount per item; per_unit: the amount per unit.
    amount_minor      BIGINT CHECK (amount_minor > 0),
    unit              TEXT,
    min_minor         BIGINT CHECK (min_minor > 0),
    max_minor         BIGINT CHECK (max_minor >= min_minor),
    effective_from    DATE NOT NULL,
    effective_to      DATE CHECK (effective_to >= effective_from),
    created_at        TIMESTAMP NOT NULL,
    created_by        TEXT NOT NULL,
    PRIMARY KEY (code, version)
);
CREATE TRIGGER fee_items_append_only BEFORE UPDATE OR DELETE ON fee_items
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('fee item versions are never changed; add a version');

-- The key a city's own register gives a building, a member or a resident unit (its number in the housing
-- register, the Party-member roster, the unit list): an import with mode=upsert finds the row to update by
-- it, as it finds communities and grids by their codes. Optional: rows drawn by hand have none.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['buildings', 'members', 'units'] LOOP
    EXECUTE format('ALTER TABLE %I ADD COLUMN external_id text UNIQUE CHECK (external_id <> '''')', t);
    PERFORM audit_install(t::regclass);
  END LOOP;
END $$;

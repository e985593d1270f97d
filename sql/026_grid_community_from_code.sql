-- A grid's code is its community's code and 3 digits more: a city office's file names a grid's community by
-- that code, not by Gridmap's id. A grid written without community_id takes the community its code begins with.
CREATE FUNCTION grid_community_from_code() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.community_id IS NULL THEN
    NEW.community_id := (SELECT id FROM communities WHERE code = left(NEW.code, 12));
    IF NEW.community_id IS NULL THEN
      RAISE EXCEPTION 'no community has code % (the first 12 digits of grid code %): import the communities first, or give community_id', left(NEW.code, 12), NEW.code
        USING ERRCODE = 'check_violation', COLUMN = 'community_id';
    END IF;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER grid_community_from_code BEFORE INSERT ON grids FOR EACH ROW EXECUTE FUNCTION grid_community_from_code();

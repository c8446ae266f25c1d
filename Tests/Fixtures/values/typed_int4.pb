*xB
typed_int4
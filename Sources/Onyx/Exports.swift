@_exported import OnyxCore
